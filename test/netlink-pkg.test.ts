// netlink/pkg.ts loads the few files of npm `netlink` we use, not its index: the same objects the
// index exports, without the nl80211/genl/wireguard modules. Run in a child, whose module cache
// no other test has filled, from the modules as built (dist/).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const probe = `
const pkg = await import(${JSON.stringify(pathToFileURL(path.resolve('dist/netlink/pkg.js')).href)});
const { createRequire } = await import('node:module');
const req = createRequire(import.meta.url);
const loaded = Object.keys(req.cache).filter((f) => f.includes('/node_modules/netlink/')).map((f) => f.slice(f.indexOf('/dist/')));
const full = req('netlink');
const same = ['AttrStream', 'FlagsNew', 'Flags', 'MessageType', 'Protocol', 'RawNetlinkSocket', 'createNetlink', 'parseError', 'rt', 'ifla'].filter((k) => pkg[k] !== full[k]);
console.log(JSON.stringify({ loaded, differ: same, parse: pkg.rt.parseMessage === full.rt.parseMessage, vxlan: pkg.ifla.parseVxlan === full.ifla.parseVxlan }));
`;

describe('netlink package loading', () => {
  it("requires only the files we use, and they are the index's own exports", () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { loaded: string[]; differ: string[]; parse: boolean; vxlan: boolean };
    expect(out.loaded.some((f) => f.includes('nl80211') || f.includes('/wg/') || f.includes('/genl/') || f === '/dist/index.js')).toBe(false);
    expect(out.loaded).toContain('/dist/rt/ifla.js');
    expect(out.differ).toEqual([]);
    expect(out.parse && out.vxlan).toBe(true);
  });
});
