import { describe, expect, it } from 'vitest';
import { IptablesManager, type IptablesRunner, forwardChain, masqChain, parseIptablesSave, planRestore } from '../iptables/index.js';
import { silentLogger } from '../common/index.js';
import { renderDockerOpts } from '../flanneld/docker-opts.js';

const p = { network: '10.5.0.0/16', subnet: '10.5.72.0/24' };
const specs = [masqChain(p), forwardChain(p)];
const saveOf = (natRules: string[], filterRules: string[] = []) =>
  `*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${natRules.join('\n')}\nCOMMIT\n*filter\n:FORWARD DROP [0:0]\n${filterRules.join('\n')}\nCOMMIT\n`;
const inPlace = saveOf(
  [':FLANNEL-POSTRTG - [0:0]', '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG', '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE', ...masqChain(p).rules.map((r) => `-A FLANNEL-POSTRTG ${r}`)],
  [':FLANNEL-FWD - [0:0]', '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD', '-A FORWARD -j DOCKER-USER', ...forwardChain(p).rules.map((r) => `-A FLANNEL-FWD ${r}`)],
);

describe('flanneld iptables rules', () => {
  it('masquerades what leaves the overlay and leaves the rest alone', () => {
    expect(masqChain(p).rules).toEqual([
      '-m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      '-s 10.5.72.0/24 -d 10.5.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
      '-s 10.5.0.0/16 -d 10.5.72.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '! -s 10.5.0.0/16 -d 10.5.72.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-s 10.5.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      '! -s 10.5.0.0/16 -d 10.5.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    ]);
  });
  it('writes nothing when everything is in place, whatever else the chains hold', () => {
    expect(planRestore(specs, parseIptablesSave(inPlace))).toBeUndefined();
  });
  it('writes our chains and hooks on an empty table, touching no other chain', () => {
    const plan = planRestore(specs, parseIptablesSave(saveOf([])))!;
    expect(plan).toContain('*nat\n:FLANNEL-POSTRTG - [0:0]\n');
    expect(plan).toContain('-I POSTROUTING 1 -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG');
    expect(plan).toContain('-I FORWARD 1 -m comment --comment "flanneld forward" -j FLANNEL-FWD');
    expect(plan.split('\n').filter((l) => l.startsWith(':'))).toEqual([':FLANNEL-POSTRTG - [0:0]', ':FLANNEL-FWD - [0:0]']);
    expect(plan.match(/^-[AID] (\S+)/gm)!.every((l) => /FLANNEL-|POSTROUTING|FORWARD/.test(l))).toBe(true);
  });
  it('repairs a flushed chain, a duplicated hook and a hook pushed down, and only in that table', () => {
    const flushed = parseIptablesSave(inPlace);
    flushed.get('nat')!.set('FLANNEL-POSTRTG', []);
    const plan1 = planRestore(specs, flushed)!;
    expect(plan1).toContain('*nat');
    expect(plan1).not.toContain('*filter');
    expect(plan1).not.toContain('POSTROUTING');

    const dup = parseIptablesSave(inPlace);
    const fwd = dup.get('filter')!.get('FORWARD')!;
    fwd.unshift('-j DOCKER-USER');
    fwd.push('-m comment --comment "flanneld forward" -j FLANNEL-FWD');
    const plan2 = planRestore(specs, dup)!;
    expect(plan2.match(/^-D FORWARD .*FLANNEL-FWD$/gm)).toHaveLength(2);
    expect(plan2).toContain('-I FORWARD 1 -m comment --comment "flanneld forward" -j FLANNEL-FWD');
  });
});

/** Polls `ok` every 5 ms, at most `ms`. */
async function until(ok: () => boolean, ms = 5_000): Promise<void> {
  for (let i = 0; i < ms / 5 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}

describe('iptables manager', () => {
  /** A host whose rules are already in place: every check reads them, nothing is ever restored. */
  function host(notifies: boolean) {
    const seen = { saves: 0, restores: 0, onChange: undefined as (() => void) | undefined, stopped: false };
    const ipt: IptablesRunner = {
      save: async () => (seen.saves++, inPlace),
      restore: async () => void seen.restores++,
      ...(notifies && {
        watchChanges: async (onChange: () => void) => {
          seen.onChange = onChange;
          return () => void (seen.stopped = true);
        },
      }),
    };
    return { ipt, seen };
  }

  it('checks once, then only after the kernel announces a change, where it announces them', async () => {
    const { ipt, seen } = host(true);
    const m = new IptablesManager(ipt, 0.02, silentLogger);
    m.set(specs);
    const ac = new AbortController();
    const done = m.run(ac.signal);
    await until(() => seen.saves === 1);
    // Five quiet periods (fewer than the slow check's twelve, however slow the machine): no check.
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.saves).toBe(1);
    seen.onChange!();
    await until(() => seen.saves === 2);
    ac.abort();
    await done;
    expect(seen.restores).toBe(0);
    expect(seen.stopped).toBe(true);
  });

  it('checks every period where nothing announces changes', async () => {
    const { ipt, seen } = host(false);
    const m = new IptablesManager(ipt, 0.01, silentLogger);
    m.set(specs);
    const ac = new AbortController();
    const done = m.run(ac.signal);
    await until(() => seen.saves >= 3);
    ac.abort();
    await done;
  });
});

describe('docker options', () => {
  it('renders what mk-docker-opts.sh wrote, with ip-masq inverted', () => {
    const env = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
    expect(renderDockerOpts(env)).toBe(
      'DOCKER_OPT_BIP="--bip=10.5.72.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=1450"\nDOCKER_NETWORK_OPTIONS=" --bip=10.5.72.1/24 --ip-masq=false --mtu=1450"\n',
    );
    expect(renderDockerOpts(env.replace('IPMASQ=true', 'IPMASQ=false'), { key: 'DOCKER_OPTS', noIpMasq: true })).toBe(
      'DOCKER_OPT_BIP="--bip=10.5.72.1/24"\nDOCKER_OPT_MTU="--mtu=1450"\nDOCKER_OPTS=" --bip=10.5.72.1/24 --mtu=1450"\n',
    );
    expect(() => renderDockerOpts('FLANNEL_MTU=1450\n')).toThrow(/FLANNEL_SUBNET/);
  });
  it('writes only the individual (-i) or only the combined (-c) variables when asked', () => {
    const env = 'FLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
    expect(renderDockerOpts(env, { individual: true })).toBe('DOCKER_OPT_BIP="--bip=10.5.72.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1450"\n');
    expect(renderDockerOpts(env, { combined: true, key: 'DOCKER_OPTS' })).toBe('DOCKER_OPTS=" --bip=10.5.72.1/24 --ip-masq=true --mtu=1450"\n');
    expect(renderDockerOpts(env, { individual: true, combined: true })).toBe(renderDockerOpts(env));
  });
});
