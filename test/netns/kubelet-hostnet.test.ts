// A host-network pod as kube-flannel's is: its sandbox on the node's network (the node's address as the
// pod's IP), not privileged but with NET_ADMIN, so a link it makes is the node's; without the capability
// the same command is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../../cluster/index.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { ipJson, waitFor } from './flannel.js';
import { KubeLab } from './kubelet.js';

describe('kubelet: hostNetwork and capabilities', () => {
  let k: KubeLab;
  beforeAll(async () => {
    k = await KubeLab.start({ hosts: ['a'] });
  }, 180_000);
  afterAll(async () => {
    await k?.destroy();
  }, 60_000);

  const pod = (name: string, addr: string, caps: string[]): Pod =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', uid: `uid-${name}` },
      spec: {
        nodeName: 'a',
        hostNetwork: true,
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'c', image: BUSYBOX_IMAGE, command: ['sh', '-c', `ip addr add ${addr}/32 dev lo; sleep 3600`], securityContext: { privileged: false, capabilities: { add: caps } } }],
      },
    }) as unknown as Pod;

  const loAddrs = async (): Promise<string[]> =>
    (await ipJson<{ addr_info: { local: string }[] }[]>(k.lab.host('a'), ['addr', 'show', 'dev', 'lo'])).flatMap((l) => l.addr_info.map((a) => a.local));
  const running = (name: string) => k.waitPod(name, 'Running', (x) => x.status?.phase === 'Running' || x.status?.phase === 'Failed', 60_000);

  it("with NET_ADMIN: the pod's IP is the node's and the address it adds is on the node's lo", async () => {
    await k.putPod(pod('hn-admin', '198.51.100.9', ['NET_ADMIN']));
    const p = await running('hn-admin');
    expect(p.status?.phase, JSON.stringify(p.status)).toBe('Running');
    expect(p.status?.podIP).toBe(k.lab.host('a').ip);
    expect(p.status?.hostIP).toBe(k.lab.host('a').ip);
    const addrs = await waitFor('198.51.100.9 on lo', async () => ((await loAddrs()).includes('198.51.100.9') ? true : undefined), 15_000, 250).catch(() => false);
    expect(addrs, (await loAddrs()).join(' ')).toBe(true);
  }, 90_000);

  it('without it: the same command is refused, and the node has no such address', async () => {
    await k.putPod(pod('hn-plain', '198.51.100.10', []));
    const p = await running('hn-plain');
    expect(p.status?.phase).toBe('Running');
    const [c] = (await k.containers('a', 'hn-plain', 'c')).filter((x) => x.state === 'running');
    const logs = await waitFor('the refusal', async () => {
      const r = await k.node('a').dockerd.dockerExec(['logs', c!.id]);
      return /Operation not permitted|Permission denied/.test(r.stderr) ? r.stderr : undefined;
    }, 15_000, 250);
    expect(logs).toMatch(/Operation not permitted|Permission denied/);
    expect(await loAddrs()).not.toContain('198.51.100.10');
  }, 90_000);
});
