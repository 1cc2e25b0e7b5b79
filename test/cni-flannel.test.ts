// The flannel meta-plugin: subnet.env parsing, the delegate config it builds (defaults, overrides,
// IPv6), and ADD/DEL/CHECK against a fake delegate and an in-memory file system.
import { describe, expect, it } from 'vitest';
import {
  type CmdArgs,
  CniError,
  type FlannelFs,
  type PluginExec,
  type PluginRun,
  SubnetFileError,
  buildDelegateConfig,
  flannelPlugin,
  parseFlannelEnv,
  parseFlannelNetConf,
  renderDelegateConfig,
} from '../cni/index.js';
import { ConfigError } from '../ipam/config.js';

const ENV = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
const ENV6 = `${ENV}FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:48::1/64\n`;

describe('subnet.env', () => {
  it('reads networks (deduplicated lists), the subnet as a network, MTU and ipMasq', () => {
    const e = parseFlannelEnv('FLANNEL_NETWORK=10.5.0.0/16,10.6.0.0/16,10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n', 'f');
    expect(e.networks.map((n) => n.prefix)).toEqual([16, 16]);
    expect(e.subnet?.addr.value).toBe(0x0a054800n);
    expect([e.mtu, e.ipMasq]).toEqual([1450, true]);
  });

  it('names what is missing or malformed', () => {
    expect(() => parseFlannelEnv('FLANNEL_NETWORK=10.5.0.0/16\n', '/run/flannel/subnet.env')).toThrow(
      '/run/flannel/subnet.env: is missing FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ',
    );
    expect(() => parseFlannelEnv(ENV.replace('1450', 'big'), 'f')).toThrow(/FLANNEL_MTU/);
    expect(() => parseFlannelEnv(ENV.replace('10.5.72.1/24', '10.5.72.1'), 'f')).toThrow(SubnetFileError);
  });
});

describe('delegate config', () => {
  const nc = (extra: Record<string, unknown> = {}) => parseFlannelNetConf({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', ...(extra as Record<string, never>) });

  it('defaults to bridge cni0 with host-local on the node subnet and a route to the network', () => {
    const d = buildDelegateConfig(nc(), parseFlannelEnv(ENV, 'f'));
    expect(JSON.parse(renderDelegateConfig(d))).toEqual({
      cniVersion: '1.0.0',
      name: 'cbr0',
      type: 'bridge',
      bridge: 'cni0',
      isGateway: true,
      ipMasq: true,
      mtu: 1450,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.5.72.0/24' }]], routes: [{ dst: '10.5.0.0/16' }] },
    });
  });

  it('turns the bridge masquerade off when flanneld masquerades', () => {
    expect(buildDelegateConfig(nc(), parseFlannelEnv(ENV.replace('IPMASQ=false', 'IPMASQ=true'), 'f')).ipMasq).toBe(false);
  });

  it('adds the IPv6 range and route for dual stack', () => {
    const d = JSON.parse(renderDelegateConfig(buildDelegateConfig(nc(), parseFlannelEnv(ENV6, 'f'))));
    expect(d.ipam.ranges).toEqual([[{ subnet: '10.5.72.0/24' }], [{ subnet: 'fc00:0:0:48::/64' }]]);
    expect(d.ipam.routes).toEqual([{ dst: '10.5.0.0/16' }, { dst: 'fc00::/48' }]);
  });

  it('honours delegate overrides, keeps unknown keys, and merges the netconf ipam', () => {
    const d = JSON.parse(
      renderDelegateConfig(
        buildDelegateConfig(
          nc({
            delegate: { hairpinMode: true, isDefaultGateway: true, mtu: 1400, ipMasq: false, bridge: 'kube0' },
            ipam: { dataDir: '/tmp/ipam', routes: [{ dst: '192.168.0.0/16', gw: '10.5.72.254' }], ranges: 'ignored' },
            runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] },
          }),
          parseFlannelEnv(ENV, 'f'),
        ),
      ),
    );
    expect(d).toMatchObject({ type: 'bridge', bridge: 'kube0', mtu: 1400, ipMasq: false, hairpinMode: true, isDefaultGateway: true, isGateway: true });
    expect(d.ipam).toEqual({ dataDir: '/tmp/ipam', type: 'host-local', ranges: [[{ subnet: '10.5.72.0/24' }]], routes: [{ dst: '192.168.0.0/16', gw: '10.5.72.254' }, { dst: '10.5.0.0/16' }] });
    expect(d.runtimeConfig).toEqual({ portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] });
  });

  it('sets isGateway and bridge only for the bridge delegate', () => {
    const d = buildDelegateConfig(nc({ delegate: { type: 'ipvlan', master: 'eth0' } }), parseFlannelEnv(ENV, 'f'));
    expect([d.type, d.isGateway, d.bridge, d.rest]).toEqual(['ipvlan', undefined, undefined, { master: 'eth0' }]);
  });

  it('rejects delegate name/ipam and badly typed overrides, naming the field', () => {
    expect(() => nc({ delegate: { name: 'x' } })).toThrow(/delegate.name/);
    expect(() => nc({ delegate: { ipam: {} } })).toThrow(/delegate.ipam/);
    expect(() => nc({ delegate: { type: 3 } })).toThrow(/delegate.type/);
    const err = (() => {
      try {
        buildDelegateConfig(nc({ delegate: { mtu: 'big' } }), parseFlannelEnv(ENV, 'f'));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('delegate.mtu');
  });

  it('defaults subnetFile and dataDir as flannel does', () => {
    expect(nc()).toMatchObject({ subnetFile: '/run/flannel/subnet.env', dataDir: '/var/lib/cni/flannel' });
  });
});

// ---------------------------------------------------------------- the plugin against fakes

class MemFs implements FlannelFs {
  readonly files = new Map<string, string>();
  async readFile(file: string): Promise<string> {
    const v = this.files.get(file);
    if (v === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return v;
  }
  async save(dir: string, name: string, data: string): Promise<void> {
    this.files.set(`${dir}/${name}`, data);
  }
  async remove(file: string): Promise<void> {
    this.files.delete(file);
  }
}

interface Call {
  verb: string | undefined;
  file: string;
  stdin: string;
}

class FakeExec implements PluginExec {
  readonly calls: Call[] = [];
  constructor(private readonly reply: (c: Call) => PluginRun) {}
  async find(plugin: string, dirs: readonly string[]) {
    return dirs.includes('/opt/cni/bin') && plugin === 'bridge' ? `/opt/cni/bin/${plugin}` : undefined;
  }
  async run(file: string, stdin: string, env: Readonly<Record<string, string | undefined>>): Promise<PluginRun> {
    const c = { verb: env.CNI_COMMAND, file, stdin };
    this.calls.push(c);
    return this.reply(c);
  }
}

const BRIDGE_RESULT = '{"cniVersion":"1.0.0","interfaces":[{"name":"cni0"}],"ips":[{"address":"10.5.72.2/24","gateway":"10.5.72.1","interface":2}]}';
const ok = (c: Call): PluginRun => ({ code: 0, stdout: c.verb === 'ADD' ? BRIDGE_RESULT : '', timedOut: false });

function cmd(command: CmdArgs['command'], netconf: Record<string, unknown>): CmdArgs {
  return {
    command,
    containerId: 'ctr1',
    netns: '/var/run/netns/p',
    ifName: 'eth0',
    args: '',
    path: '/opt/cni/bin',
    stdin: JSON.stringify(netconf),
    netconf: JSON.parse(JSON.stringify(netconf)),
    cniVersion: '1.0.0',
    env: { CNI_PATH: '/opt/cni/bin', CNI_CONTAINERID: 'ctr1' },
  };
}

const NETCONF = { cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile: '/run/se', dataDir: '/var/lib/fl' };

describe('flannel plugin', () => {
  it('ADD saves the delegate config and passes the result through; DEL replays it exactly, once', async () => {
    const fs = new MemFs();
    fs.files.set('/run/se', ENV);
    const exec = new FakeExec(ok);
    const p = flannelPlugin({ fs, exec });
    expect(await p.add(cmd('ADD', NETCONF))).toEqual({ raw: BRIDGE_RESULT });
    const saved = fs.files.get('/var/lib/fl/ctr1')!;
    expect(JSON.parse(saved)).toMatchObject({ type: 'bridge', ipam: { ranges: [[{ subnet: '10.5.72.0/24' }]] } });
    expect(exec.calls[0]).toEqual({ verb: 'ADD', file: '/opt/cni/bin/bridge', stdin: saved });

    fs.files.set('/run/se', ENV.replace('10.5.72.1/24', '10.5.99.1/24')); // flanneld moved meanwhile: DEL still replays ADD's config
    await p.del(cmd('DEL', NETCONF));
    expect(exec.calls[1]).toEqual({ verb: 'DEL', file: '/opt/cni/bin/bridge', stdin: saved });
    expect(fs.files.has('/var/lib/fl/ctr1')).toBe(false);
    await p.del(cmd('DEL', NETCONF)); // no saved config: a no-op success
    expect(exec.calls).toHaveLength(2);
  });

  it('passes a delegate error through, undoes the delegate with DEL and forgets the config', async () => {
    const fs = new MemFs();
    fs.files.set('/run/se', ENV);
    const exec = new FakeExec((c) =>
      c.verb === 'ADD' ? { code: 1, stdout: '{"cniVersion":"1.0.0","code":100,"msg":"failed to allocate for range 0","details":"full"}', timedOut: false } : ok(c),
    );
    const err = await flannelPlugin({ fs, exec }).add(cmd('ADD', NETCONF)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).toJson('1.0.0')).toEqual({ cniVersion: '1.0.0', code: 100, msg: 'failed to allocate for range 0', details: 'full' });
    expect(exec.calls.map((c) => c.verb)).toEqual(['ADD', 'DEL']);
    expect(fs.files.has('/var/lib/fl/ctr1')).toBe(false);
  });

  it('keeps the saved config when the delegate DEL fails, so a retry can replay it', async () => {
    const fs = new MemFs();
    fs.files.set('/var/lib/fl/ctr1', '{"cniVersion":"1.0.0","name":"cbr0","type":"bridge"}');
    const exec = new FakeExec(() => ({ code: 1, stdout: 'not json', timedOut: false }));
    await expect(flannelPlugin({ fs, exec }).del(cmd('DEL', NETCONF))).rejects.toMatchObject({ cniCode: 122 });
    expect(fs.files.has('/var/lib/fl/ctr1')).toBe(true);
  });

  it('says try again later (11) without subnet.env, and 121 when the delegate is not on CNI_PATH', async () => {
    const fs = new MemFs();
    const exec = new FakeExec(ok);
    await expect(flannelPlugin({ fs, exec }).add(cmd('ADD', NETCONF))).rejects.toMatchObject({ cniCode: 11, msg: 'flannel subnet file not found' });
    fs.files.set('/run/se', ENV);
    await expect(flannelPlugin({ fs, exec }).add(cmd('ADD', { ...NETCONF, delegate: { type: 'macvlan' } }))).rejects.toMatchObject({ cniCode: 121 });
    fs.files.set('/run/se', 'FLANNEL_MTU=1450\n');
    await expect(flannelPlugin({ fs, exec }).add(cmd('ADD', NETCONF))).rejects.toMatchObject({ cniCode: 120 });
  });

  it('CHECK runs the delegate on the saved config with prevResult, and notices a changed subnet', async () => {
    const fs = new MemFs();
    fs.files.set('/run/se', ENV);
    const exec = new FakeExec(ok);
    const p = flannelPlugin({ fs, exec });
    await expect(p.check(cmd('CHECK', NETCONF))).rejects.toMatchObject({ cniCode: 123 });
    await p.add(cmd('ADD', NETCONF));
    const prevResult = JSON.parse(BRIDGE_RESULT);
    await p.check(cmd('CHECK', { ...NETCONF, prevResult }));
    const sent = JSON.parse(exec.calls[1]!.stdin);
    expect(exec.calls[1]!.verb).toBe('CHECK');
    expect(sent.prevResult).toEqual(prevResult);
    expect(sent.ipam).toEqual(JSON.parse(fs.files.get('/var/lib/fl/ctr1')!).ipam);
    fs.files.set('/run/se', ENV.replace('10.5.72.1/24', '10.5.99.1/24'));
    await expect(p.check(cmd('CHECK', { ...NETCONF, prevResult }))).rejects.toMatchObject({ cniCode: 124 });
  });

  it('drops an unreadable saved config on DEL without calling a delegate', async () => {
    const fs = new MemFs();
    fs.files.set('/var/lib/fl/ctr1', '{trunc');
    const exec = new FakeExec(ok);
    await flannelPlugin({ fs, exec }).del(cmd('DEL', NETCONF));
    expect(exec.calls).toHaveLength(0);
    expect(fs.files.has('/var/lib/fl/ctr1')).toBe(false);
  });
});
