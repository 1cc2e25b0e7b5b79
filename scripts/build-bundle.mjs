// Writes dist/bundle/flanneld.cjs after tsc: flanneld's cli.js and the packages its start loads
// (commander, pino...) as one CommonJS file, which dist/flanneld/main.js runs through V8's
// code cache. What is required by path at run time stays outside: the netlink package, the native
// addons, etcd3 and gRPC (loaded only when etcd serves no JSON gateway, or over TLS), and the
// packages named below. Without
// esbuild (a dev dependency) no bundle is written and main.js runs the modules tsc wrote.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(repo, 'dist', 'bundle', 'flanneld.cjs');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (e) {
  rmSync(outfile, { force: true }); // never leave a bundle of older code behind
  console.warn(`build-bundle: esbuild is not installed (${e.code ?? e.message}): flanneld runs unbundled`);
  process.exit(0);
}

// sonic-boom (pino's destination) requires node:assert at load for one argument check; loading it
// makes Node build process.stderr's stream and its colour support, a sixth of what is left of a
// start. Bundled packages get this stand-in: the same call, the real module only if a check fails.
const lazyAssert = {
  name: 'lazy-assert',
  setup(build) {
    build.onResolve({ filter: /^(node:)?assert$/ }, (a) => (a.importer.includes(`${path.sep}node_modules${path.sep}`) ? { path: 'lazy-assert', namespace: 'lazy-assert' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy-assert' }, () => ({
      loader: 'js',
      contents: `const real = () => require('node:assert');
function ok(value, message) { if (!value) real()(value, message); }
module.exports = new Proxy(ok, { get: (t, k) => (k in t ? t[k] : real()[k]) });`,
    }));
  },
};

await esbuild.build({
  entryPoints: [path.join(repo, 'dist', 'flanneld', 'cli.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // netlink finds its native binding from its own directory (node-gyp-build): it must load from
  // node_modules. yaml (kubeconfig) and prom-client (--healthz-port's /metrics) are required only by
  // what kube mode and the metrics load, on demand: outside, they cost a start nothing, not even parsing.
  external: ['netlink', 'yaml', 'prom-client'],
  // ES modules' import.meta.url, as the bundle's own URL: every use resolves a package or walks up
  // to package.json, which finds the same files from dist/bundle/ as from dist/<folder>/.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyAssert],
  logLevel: 'warning',
  legalComments: 'none',
});
