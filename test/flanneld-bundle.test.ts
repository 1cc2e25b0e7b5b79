// The bundle `npm run build` writes for flanneld (scripts/build-bundle.mjs), as built: it exists,
// the bin runs it and the unbundled modules alike, and what must load from node_modules (native
// bindings, etcd3/gRPC, yaml, prom-client) is not inside it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = path.resolve('dist/flanneld/main.js');
const BUNDLE = path.resolve('dist/bundle/flanneld.cjs');

const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });

describe('flanneld bundle', () => {
  it('is what the bin runs, and the modules answer the same without it', () => {
    const version = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const env of [{}, { FLANNEL_TS_BUNDLE: 'off' }] as Record<string, string>[]) {
      const r = run(['--version'], env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(version.version);
      const bad = run(['--healthz-port=70000'], env);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/healthz-port/);
    }
  });

  it("takes the next start's code from the cache the last one wrote, under the V8 flags main.js sets", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flanneld-cc-'));
    try {
      const env = { FLANNEL_TS_COMPILE_CACHE: dir };
      // `config check` runs past main.js's last line (--version exits inside the bundle's first turn)
      const conf = path.join(dir, 'net-conf.json');
      writeFileSync(conf, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
      const check = (): void => {
        const r = run(['config', 'check', conf], env);
        expect(r.status, r.stderr).toBe(0);
      };
      check();
      const files = (): Map<string, number> => {
        const sub = readdirSync(dir).find((f) => f.startsWith('v8-'));
        return new Map(readdirSync(path.join(dir, sub!)).map((f) => [f, statSync(path.join(dir, sub!, f)).mtimeMs]));
      };
      const first = files();
      expect(first.size).toBeGreaterThan(0);
      // A cache V8 rejects (made under other flags) is written again at exit: an accepted one is left alone.
      check();
      expect(files()).toEqual(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves the packages loaded by path or on demand outside', () => {
    const text = readFileSync(BUNDLE, 'utf8');
    for (const pkg of ['etcd3', '@grpc/grpc-js', 'protobufjs', 'yaml', 'prom-client', 'node-gyp-build']) expect(text.includes(`node_modules/${pkg}/`), pkg).toBe(false);
    // netlink: the files netlink/pkg.ts names, not the index or what only it loads; the binding from the package's directory
    for (const file of ['constants', 'raw', 'structs', 'netlink', 'rt/structs', 'rt/ifla']) expect(text, file).toContain(`node_modules/netlink/dist/${file}.js`);
    for (const file of ['index', 'nl80211/structs', 'wg/structs', 'genl/genl']) expect(text, file).not.toContain(`node_modules/netlink/dist/${file}.js`);
    expect(text).toContain('require("node-gyp-build")(require("node:path").dirname(require.resolve("netlink/package.json")))');
    expect(text).toContain('node_modules/pino/');
    expect(text).toContain('node_modules/commander/');
  });
});
