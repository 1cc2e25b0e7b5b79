// The CommonJS code cache in real Node processes: a first start compiles a package under
// node_modules and saves its cache on exit, a second start loads it from there with the same
// exports, require and __dirname; a changed file is compiled again; our own files (unless named,
// as flanneld's bundle is) and FLANNEL_TS_COMPILE_CACHE=off are left alone.
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CACHE_MODULE = pathToFileURL(path.resolve('dist/core/compile-cache.js')).href;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'compile-cache-'));
  const pkg = path.join(dir, 'node_modules', 'demo');
  await mkdir(pkg, { recursive: true });
  await writeFile(path.join(pkg, 'package.json'), '{"name":"demo","main":"index.js"}');
  await writeFile(path.join(pkg, 'helper.js'), 'module.exports = (x) => x * 2;\n');
  await writeFile(path.join(pkg, 'index.js'), "const h = require('./helper.js');\nmodule.exports = { v: h(21), dir: __dirname, resolved: require.resolve('./helper.js') };\n");
  await writeFile(path.join(dir, 'own.cjs'), 'module.exports = 1;\n');
  // The entry is ESM, as our daemons' are, and loads the package through createRequire.
  await writeFile(
    path.join(dir, 'main.mjs'),
    `import { createRequire } from 'node:module';
const { enableCjsCompileCache } = await import(${JSON.stringify(CACHE_MODULE)});
const cc = enableCjsCompileCache(5000, process.env.ALSO_CACHE ? [process.env.ALSO_CACHE] : []);
const again = enableCjsCompileCache();
if (again !== cc) throw new Error('a second call installed a second hook');
const require = createRequire(import.meta.url);
const demo = require('demo');
require('./own.cjs');
console.log(JSON.stringify({ hits: cc?.hits() ?? null, demo }));
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(cache: string, env: Record<string, string> = {}): { hits: number | null; demo: { v: number; dir: string; resolved: string } } {
  const r = spawnSync(process.execPath, [path.join(dir, 'main.mjs')], { env: { ...process.env, FLANNEL_TS_COMPILE_CACHE: cache, ...env }, encoding: 'utf8', timeout: 20_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReturnType<typeof start>;
}

describe('CommonJS compile cache', () => {
  it('saves on the first start and loads from the cache on the next, with the same module behaviour', async () => {
    const cache = path.join(dir, 'cache');
    const pkg = path.join(dir, 'node_modules', 'demo');
    const first = start(cache);
    expect(first).toEqual({ hits: 0, demo: { v: 42, dir: pkg, resolved: path.join(pkg, 'helper.js') } });
    const [versionDir] = await readdir(cache);
    expect(versionDir).toBe(`v8-${process.version}-${process.versions.v8}-${process.arch}`);
    expect(await readdir(path.join(cache, versionDir ?? ''))).toHaveLength(2); // index.js and helper.js, not own.cjs
    expect(start(cache)).toEqual({ ...first, hits: 2 });

    await writeFile(path.join(pkg, 'helper.js'), 'module.exports = (x) => x * 3;\n');
    const changed = start(cache);
    expect(changed.hits).toBe(1);
    expect(changed.demo.v).toBe(63);
  });

  it('caches a file of our own when named (a bundle), and one hook however often it is asked for', async () => {
    const cache = path.join(dir, 'cache-own');
    const env = { ALSO_CACHE: path.join(dir, 'own.cjs') };
    expect(start(cache, env).hits).toBe(0);
    expect(start(cache, env).hits).toBe(3); // the package's two files and own.cjs
  });

  it('does nothing when turned off', () => {
    expect(start('off')).toMatchObject({ hits: null, demo: { v: expect.any(Number) } });
  });
});
