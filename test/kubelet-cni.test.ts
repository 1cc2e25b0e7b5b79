// The kubelet's CNI network plugin: config choice and parsing as libcni's, the per-plugin config and
// environment, the pod's address in a result, libcni's cache entry (cni-config.ts); and the ADD/DEL
// sequencing of CniNetwork (cni-network.ts) over real temp dirs with the process edge recorded.
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PluginExec, PluginRun } from '../cni/index.js';
import { createLogger } from '../common/index.js';
import {
  CNI_NOT_READY_MESSAGE,
  CniConfigError,
  CniNetwork,
  addKubeletOptions,
  cacheEntry,
  cacheFile,
  chooseNetworkConfig,
  cniArgs,
  delTakesPrevResult,
  kubeletOptions,
  parseCacheEntry,
  parseNetworkConfig,
  pluginConfig,
  pluginEnv,
  podIPs,
} from '../kubelet/index.js';
import { Command } from 'commander';

const LIST = JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel', delegate: { hairpinMode: true } }, { type: 'portmap', capabilities: { portMappings: true } }] });

describe('parseNetworkConfig', () => {
  it('reads a conflist as it is', () => {
    const l = parseNetworkConfig('/d/10-flannel.conflist', LIST);
    expect(l).toMatchObject({ name: 'cbr0', cniVersion: '1.0.0', file: '/d/10-flannel.conflist', bytes: LIST });
    expect(l.plugins.map((p) => p.type)).toEqual(['flannel', 'portmap']);
  });

  it('wraps a .conf (or .json) into a list of one, its version defaulting to 0.1.0', () => {
    const l = parseNetworkConfig('/d/10-bridge.conf', JSON.stringify({ name: 'br', type: 'bridge', bridge: 'cni0' }));
    expect(l).toMatchObject({ name: 'br', cniVersion: '0.1.0', plugins: [{ type: 'bridge', bridge: 'cni0' }] });
    expect(JSON.parse(l.bytes)).toEqual({ cniVersion: '0.1.0', name: 'br', plugins: [{ name: 'br', type: 'bridge', bridge: 'cni0' }] });
    expect(parseNetworkConfig('/d/x.json', JSON.stringify({ cniVersion: '0.4.0', name: 'n', type: 'ptp' })).plugins).toHaveLength(1);
  });

  it('names the file and the problem of a bad one', () => {
    const bad = (file: string, text: string): string => {
      try {
        parseNetworkConfig(file, text);
      } catch (e) {
        expect(e).toBeInstanceOf(CniConfigError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad('/d/a.conflist', '{')).toMatch(/^\/d\/a\.conflist: not JSON/);
    expect(bad('/d/a.conflist', '[]')).toBe('/d/a.conflist: not a JSON object');
    expect(bad('/d/a.conflist', '{"plugins": []}')).toBe('/d/a.conflist: the list has no "name"');
    expect(bad('/d/a.conflist', '{"name": "x"}')).toBe('/d/a.conflist: the list has no "plugins"');
    expect(bad('/d/a.conflist', '{"name": "x", "plugins": [{"bridge": "b"}]}')).toBe('/d/a.conflist: plugins[0] has no "type"');
    expect(bad('/d/a.conflist', '{"name": "x", "plugins": [{"type": "../bin/sh"}]}')).toBe('/d/a.conflist: plugins[0] has an invalid "type" "../bin/sh"');
    expect(bad('/d/a.conf', '{"name": "x"}')).toBe('/d/a.conf: the config has no "type"');
    expect(bad('/d/a.conf', '{"type": "bridge", "cniVersion": 1}')).toBe('/d/a.conf: the config has no "name"');
  });
});

describe('chooseNetworkConfig', () => {
  it('takes the lexically first conf file that parses and has plugins; the ones before it are skipped with why', () => {
    const files = new Map([
      ['/d/99-loopback.conf', JSON.stringify({ name: 'lo', type: 'loopback' })],
      ['/d/10-flannel.conflist', LIST],
      ['/d/05-empty.conflist', JSON.stringify({ name: 'e', plugins: [] })],
      ['/d/01-broken.conflist', '{"name":'],
      ['/d/00-readme.txt', 'not a config'],
    ]);
    const c = chooseNetworkConfig(files);
    expect(c.network?.file).toBe('/d/10-flannel.conflist');
    expect(c.skipped.map((s) => [s.file, s.reason.split(':')[0]])).toEqual([
      ['/d/01-broken.conflist', 'not JSON'],
      ['/d/05-empty.conflist', 'the list has no plugins'],
    ]);
  });

  it('passes over a list the caller finds unusable (a plugin missing), and finds none in an empty dir', () => {
    const files = new Map([
      ['/d/10-flannel.conflist', LIST],
      ['/d/20-bridge.conf', JSON.stringify({ name: 'br', type: 'bridge' })],
    ]);
    const c = chooseNetworkConfig(files, (l) => (l.plugins.some((p) => p.type === 'portmap') ? 'no portmap' : undefined));
    expect(c.network?.name).toBe('br');
    expect(c.skipped).toEqual([{ file: '/d/10-flannel.conflist', reason: 'no portmap' }]);
    expect(chooseNetworkConfig(new Map())).toEqual({ network: undefined, skipped: [] });
  });
});

describe('a plugin run', () => {
  const list = parseNetworkConfig('/d/10-flannel.conflist', LIST);

  it("injects the list's name and cniVersion, and prevResult when there is one (a plugin's own prevResult never passes)", () => {
    expect(JSON.parse(pluginConfig(list, 0, undefined))).toEqual({ type: 'flannel', delegate: { hairpinMode: true }, name: 'cbr0', cniVersion: '1.0.0' });
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.244.1.2/24' }] };
    expect(JSON.parse(pluginConfig(list, 1, prev))).toEqual({ type: 'portmap', capabilities: { portMappings: true }, name: 'cbr0', cniVersion: '1.0.0', prevResult: prev });
    const sneaky = parseNetworkConfig('/d/x.conflist', JSON.stringify({ name: 'n', cniVersion: '1.0.0', plugins: [{ type: 'a', name: 'other', prevResult: { x: 1 } }] }));
    expect(JSON.parse(pluginConfig(sneaky, 0, undefined))).toEqual({ type: 'a', name: 'n', cniVersion: '1.0.0' });
    expect(() => pluginConfig(list, 2, undefined)).toThrow(RangeError);
  });

  it("sets the CNI_ variables as the kubelet: eth0, the sandbox's netns, the pod in CNI_ARGS, the bin dirs as CNI_PATH", () => {
    const args = cniArgs({ namespace: 'kube-system', name: 'dns-1' }, 'abc123');
    expect(pluginEnv('ADD', 'abc123', '/proc/42/ns/net', args, ['/opt/cni/bin', '/usr/lib/cni'])).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'abc123',
      CNI_NETNS: '/proc/42/ns/net',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns-1;K8S_POD_INFRA_CONTAINER_ID=abc123',
      CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
    });
  });

  it('gives DEL the cached result from version 0.4.0 on', () => {
    expect(['0.1.0', '0.2.0', '0.3.1', 'x'].map(delTakesPrevResult)).toEqual([false, false, false, false]);
    expect(['0.4.0', '1.0.0', '1.1.0'].map(delTakesPrevResult)).toEqual([true, true, true]);
  });
});

describe('podIPs', () => {
  it("takes eth0's addresses, IPv4 first, leaving the host side's and other interfaces'", () => {
    const r = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/proc/1/ns/net' }],
      ips: [
        { address: 'fd00::5/64', interface: 2 },
        { address: '10.244.1.5/24', interface: 2, gateway: '10.244.1.1' },
        { address: '10.244.1.1/24', interface: 0 },
      ],
    };
    expect(podIPs(r)).toEqual(['10.244.1.5', 'fd00::5']);
  });

  it("an IPAM-style result without interfaces, and 0.2.0's ip4/ip6", () => {
    expect(podIPs({ ips: [{ address: '10.1.0.3/16' }] })).toEqual(['10.1.0.3']);
    expect(podIPs({ ip4: { ip: '10.2.0.4/24' }, ip6: { ip: 'fd00::4/64' } })).toEqual(['10.2.0.4', 'fd00::4']);
    expect(podIPs({})).toEqual([]);
  });
});

describe("libcni's result cache", () => {
  it('is a cniCacheV1 entry with the list bytes in base64, and reads back to the same list', () => {
    const list = parseNetworkConfig('/d/10-flannel.conflist', LIST);
    const args = cniArgs({ namespace: 'default', name: 'p' }, 'cid');
    const result = { cniVersion: '1.0.0', ips: [{ address: '10.244.1.2/24' }] };
    const e = cacheEntry(list, 'cid', args, result);
    expect(e).toEqual({ kind: 'cniCacheV1', containerId: 'cid', config: Buffer.from(LIST).toString('base64'), ifName: 'eth0', networkName: 'cbr0', cniArgs: args, result });
    expect(cacheFile('cbr0', 'cid')).toBe('results/cbr0-cid-eth0');
    const back = parseCacheEntry('/c/results/cbr0-cid-eth0', JSON.stringify(e));
    expect(back.entry).toEqual(e);
    expect(back.list).toMatchObject({ name: 'cbr0', cniVersion: '1.0.0', bytes: LIST });
    expect(() => parseCacheEntry('/c/f', JSON.stringify({ ...e, kind: 'other' }))).toThrow('/c/f: not a cniCacheV1 entry (kind "other")');
    expect(() => parseCacheEntry('/c/f', 'x')).toThrow(/^\/c\/f: not JSON/);
  });
});

describe('the kubelet flags', () => {
  const parse = (argv: string[]) => {
    const cmd = addKubeletOptions(new Command('kubelet')).exitOverride().configureOutput({ writeErr: () => undefined });
    cmd.parse(argv, { from: 'user' });
    return kubeletOptions(cmd.opts());
  };

  it("default to Docker's bridge and the kubelet's CNI dirs", () => {
    expect(parse([])).toMatchObject({ networkPlugin: 'docker', cniConfDir: '/etc/cni/net.d', cniBinDirs: ['/opt/cni/bin'], cniCacheDir: '/var/lib/cni/cache' });
  });

  it('take cni, a comma list of bin dirs, and refuse an unknown plugin', () => {
    expect(parse(['--network-plugin=cni', '--cni-conf-dir=/x/net.d', '--cni-bin-dir=/a, /b', '--cni-cache-dir=/c'])).toMatchObject({ networkPlugin: 'cni', cniConfDir: '/x/net.d', cniBinDirs: ['/a', '/b'], cniCacheDir: '/c' });
    expect(parse(['--network-plugin='])).toMatchObject({ networkPlugin: 'docker' });
    expect(() => parse(['--network-plugin=kubenet'])).toThrow(/"kubenet" is not a network plugin of this kubelet/);
    expect(() => parse(['--cni-bin-dir=,'])).toThrow(/expected at least one directory/);
  });
});

describe('CniNetwork', () => {
  let dir: string;
  let calls: { type: string; env: Record<string, string | undefined>; conf: Record<string, unknown> }[];
  let fail: string | undefined;
  const log = createLogger({ level: 'silent' as 'info' });

  /** The plugins' process edge: each plugin answers with a result naming itself, or, when it is `fail`, a CNI error. */
  const exec: PluginExec = {
    find: async (plugin, dirs) => {
      for (const d of dirs) if ((await readdir(d).catch(() => [] as string[])).includes(plugin)) return path.join(d, plugin);
      return undefined;
    },
    run: (file, stdin, env): Promise<PluginRun> => {
      const type = path.basename(file);
      const conf = JSON.parse(stdin) as Record<string, unknown>;
      calls.push({ type, env: { ...env }, conf });
      if (type === fail && env.CNI_COMMAND === 'ADD') return Promise.resolve({ code: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'failed to allocate', details: 'no IP addresses available' }), timedOut: false });
      const prev = (conf.prevResult as { ips?: unknown[] } | undefined)?.ips ?? [];
      const result = type === 'bridge' ? { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: env.CNI_NETNS }], ips: [{ address: '10.9.0.7/24', interface: 0 }] } : { cniVersion: '1.0.0', ips: prev, interfaces: [{ name: 'eth0' }] };
      return Promise.resolve({ code: 0, stdout: env.CNI_COMMAND === 'ADD' ? JSON.stringify(result) : '', timedOut: false });
    },
  };
  const net = (): CniNetwork => new CniNetwork({ confDir: path.join(dir, 'net.d'), binDirs: [path.join(dir, 'bin')], cacheDir: path.join(dir, 'cache'), log, exec });
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n1', plugins: [{ type: 'bridge' }, { type: 'firewall' }] });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kcni-unit-'));
    calls = [];
    fail = undefined;
    await mkdir(path.join(dir, 'net.d'));
    await mkdir(path.join(dir, 'bin'));
    for (const p of ['bridge', 'firewall']) {
      await writeFile(path.join(dir, 'bin', p), '');
      await chmod(path.join(dir, 'bin', p), 0o755);
    }
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is not ready without a config, nor with one whose plugin is not in the bin dirs', async () => {
    const n = net();
    expect(await n.refresh()).toBeUndefined();
    expect(n.notReadyMessage()).toBe(CNI_NOT_READY_MESSAGE);
    await writeFile(path.join(dir, 'net.d', '10-a.conflist'), JSON.stringify({ name: 'x', cniVersion: '1.0.0', plugins: [{ type: 'nope' }] }));
    expect(await n.refresh()).toBeUndefined();
    await writeFile(path.join(dir, 'net.d', '20-b.conflist'), conf);
    expect((await n.refresh())?.name).toBe('n1');
    expect(n.notReadyMessage()).toBeUndefined();
  });

  it("ADD runs the plugins in order, each with the previous result; the cache holds the last; DEL runs them in reverse with it; a restart reads it back", async () => {
    await writeFile(path.join(dir, 'net.d', '10-n1.conflist'), conf);
    const n = net();
    await n.refresh();
    const ips = await n.setUp({ namespace: 'default', name: 'p' }, 'sb1', 42);
    expect(ips).toEqual(['10.9.0.7']);
    expect(calls.map((c) => [c.type, c.env.CNI_COMMAND])).toEqual([['bridge', 'ADD'], ['firewall', 'ADD']]);
    expect(calls[0]!.conf.prevResult).toBeUndefined();
    expect(calls[1]!.conf.prevResult).toMatchObject({ ips: [{ address: '10.9.0.7/24' }] });
    expect(calls[0]!.env).toMatchObject({ CNI_NETNS: '/proc/42/ns/net', CNI_CONTAINERID: 'sb1', CNI_IFNAME: 'eth0', CNI_PATH: path.join(dir, 'bin') });
    const file = path.join(dir, 'cache', 'results', 'n1-sb1-eth0');
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ kind: 'cniCacheV1', containerId: 'sb1', networkName: 'n1', result: { ips: [{ address: '10.9.0.7/24' }] } });
    expect(n.podIPs('sb1')).toEqual(['10.9.0.7']);

    // A new instance (a restarted kubelet) knows the address without any plugin run.
    calls = [];
    const again = net();
    await again.loadCache();
    expect(again.podIPs('sb1')).toEqual(['10.9.0.7']);
    expect(calls).toEqual([]);
    // DEL uses the cached list even when the conf dir no longer has it.
    await rm(path.join(dir, 'net.d', '10-n1.conflist'));
    await again.tearDown('sb1', undefined);
    expect(calls.map((c) => [c.type, c.env.CNI_COMMAND, c.env.CNI_NETNS])).toEqual([['firewall', 'DEL', ''], ['bridge', 'DEL', '']]);
    for (const c of calls) expect(c.conf.prevResult).toMatchObject({ ips: [{ address: '10.9.0.7/24' }] });
    expect(await readdir(path.join(dir, 'cache', 'results'))).toEqual([]);
    expect(again.podIPs('sb1')).toBeUndefined();
    // DEL of what is gone is nothing.
    calls = [];
    await again.tearDown('sb1', 42);
    expect(calls).toEqual([]);
  });

  it("a failing ADD throws the plugin's error in libcni's words after a DEL of the whole list, and caches nothing", async () => {
    await writeFile(path.join(dir, 'net.d', '10-n1.conflist'), conf);
    fail = 'firewall';
    const n = net();
    await n.refresh();
    await expect(n.setUp({ namespace: 'default', name: 'p' }, 'sb2', 7)).rejects.toThrow('failed to allocate; no IP addresses available');
    expect(calls.map((c) => [c.type, c.env.CNI_COMMAND])).toEqual([['bridge', 'ADD'], ['firewall', 'ADD'], ['firewall', 'DEL'], ['bridge', 'DEL']]);
    expect(calls.at(-1)!.conf.prevResult).toBeUndefined();
    expect(await readdir(path.join(dir, 'cache', 'results')).catch(() => [])).toEqual([]);
    expect(n.podIPs('sb2')).toBeUndefined();
  });

  it('a bad cache file is skipped, the others read', async () => {
    await mkdir(path.join(dir, 'cache', 'results'), { recursive: true });
    await writeFile(path.join(dir, 'cache', 'results', 'n1-bad-eth0'), '{');
    const list = parseNetworkConfig('/d/a.conflist', conf);
    await writeFile(path.join(dir, 'cache', 'results', 'n1-ok-eth0'), JSON.stringify(cacheEntry(list, 'ok', [], { ips: [{ address: '10.9.0.9/24' }] })));
    const n = net();
    await n.loadCache();
    expect(n.podIPs('ok')).toEqual(['10.9.0.9']);
    expect(n.podIPs('bad')).toBeUndefined();
    // Tearing the bad one down is a DEL with the config in use, and the file goes: a pod's termination is never stuck on it.
    await writeFile(path.join(dir, 'net.d', '10-n1.conflist'), conf);
    await n.refresh();
    await n.tearDown('bad', undefined);
    expect(calls.map((c) => [c.type, c.env.CNI_COMMAND, c.env.CNI_CONTAINERID])).toEqual([['firewall', 'DEL', 'bad'], ['bridge', 'DEL', 'bad']]);
    expect(await readdir(path.join(dir, 'cache', 'results'))).toEqual(['n1-ok-eth0']);
  });
});
