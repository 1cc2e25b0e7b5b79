// Writes dist/bundle/flanneld.cjs after tsc: flanneld's cli.js and the packages its start loads
// (commander, pino...) as one CommonJS file, which dist/flanneld/main.js runs through V8's
// code cache. What is required by path at run time stays outside: the native addons (netlink's
// among them), etcd3 and gRPC (loaded only when etcd serves no JSON gateway, or over TLS), and the
// packages named below. Without
// esbuild (a dev dependency) no bundle is written and main.js runs the modules tsc wrote.
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

// netlink: the files netlink/pkg.ts requires by literal path (not the package's index, whose
// fallback stays outside) come into the bundle, saving each a resolve, a read and a compile at
// start; pkg.ts's createRequire'd calls become the bundle's own require. The native binding stays
// in the package: raw.js finds it from its own directory, which in the bundle is dist/bundle/, so
// it is told the package's directory instead.
const netlinkInside = {
  name: 'netlink-inside',
  setup(build) {
    build.onResolve({ filter: /^netlink(\/package\.json)?$/ }, (a) => ({ path: a.path, external: true }));
    build.onLoad({ filter: /[\\/]dist[\\/]netlink[\\/]pkg\.js$/ }, async (a) => {
      const text = await readFile(a.path, 'utf8');
      return { loader: 'js', contents: text.replace(/\bnodeRequire\('netlink\/dist\//g, "require('netlink/dist/") };
    });
    build.onLoad({ filter: /[\\/]node_modules[\\/]netlink[\\/]dist[\\/]raw\.js$/ }, async (a) => {
      const text = await readFile(a.path, 'utf8');
      const from = "require('node-gyp-build')(__dirname + '/..')";
      if (!text.includes(from)) throw new Error(`build-bundle: ${a.path} no longer loads its binding with ${from}; update the netlink-inside plugin`);
      return { loader: 'js', contents: text.replace(from, "require('node-gyp-build')(require('node:path').dirname(require.resolve('netlink/package.json')))") };
    });
  },
};

await esbuild.build({
  entryPoints: [path.join(repo, 'dist', 'flanneld', 'cli.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // node-gyp-build loads netlink's native binding by path. yaml (kubeconfig) and prom-client (--healthz-port's /metrics) are required only by
  // what kube mode and the metrics load, on demand: outside, they cost a start nothing, not even parsing.
  external: ['node-gyp-build', 'yaml', 'prom-client'],
  // ES modules' import.meta.url, as the bundle's own URL: every use resolves a package or walks up
  // to package.json, which finds the same files from dist/bundle/ as from dist/<folder>/.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyAssert, netlinkInside],
  logLevel: 'warning',
  legalComments: 'none',
});
