// The v6 loadBalancerSourceRanges firewall in the real kernel: the v4 and v6 full syncs of a dual-stack
// LoadBalancer service loaded by the real nft into a private network namespace (`unshare -n`: it dies
// with its process, nothing to clean up), and a client in a second, nested namespace behind a veth pair
// (so its packets pass the node's prerouting hook, where the firewall is) reaching the v6 LoadBalancer
// address from an allowed and from a refused source. A second service whose ranges are all IPv4 is open
// over v6, as in kube-proxy.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '../../cluster/index.js';
import { parseEndpoints, parseService, ProxyState } from '../../proxy/index.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const haveTools = existsSync('/usr/sbin/nft') && existsSync('/usr/bin/unshare') && existsSync('/usr/bin/nsenter');

function lb(name: string, clusterIPs: [string, string], ingress: [string, string], ranges: string[]): Service {
  return {
    metadata: { name, namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: {
      type: 'LoadBalancer',
      clusterIP: clusterIPs[0],
      clusterIPs,
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      loadBalancerSourceRanges: ranges,
      ports: [{ port: 80, targetPort: 8080 }],
    },
    status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } },
  };
}
const endpoints = (name: string): Endpoints => ({
  metadata: { name, namespace: 'default' },
  subsets: [{ addresses: [{ ip: '10.5.1.2', nodeName: 'a' }, { ip: 'fc00:0:0:1::2', nodeName: 'a' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
});
// fw: v6 clients in 2001:db8:1::/125 (…::0-…::7) and v4 ones in 192.0.2.0/29; open: v4 ranges only.
const services = {
  'default/fw': lb('fw', ['10.96.0.10', 'fd00:96::a'], ['198.51.100.10', '2001:db8:5::10'], ['192.0.2.0/29', '2001:db8:1::/125', '2001:db8:1::4/126']),
  'default/open': lb('open', ['10.96.0.11', 'fd00:96::b'], ['198.51.100.11', '2001:db8:5::11'], ['192.0.2.0/29']),
};

function fullSync(family: 4 | 6): string {
  const st = new ProxyState({ masqMark: 0x4000, clusterCIDR: family === 6 ? 'fc00::/48' : '10.5.0.0/16', family });
  for (const [k, s] of Object.entries(services)) {
    st.services.update(k, parseService(k, s, family));
    st.endpoints.update(k, parseEndpoints(k, endpoints(s.metadata!.name!), 'a', family));
  }
  return st.plan({ full: true }).script;
}

// The endpoint answers with the client address it sees; the client prints it, or the error.
const SERVE = `import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 8080)); s.listen(16); s.settimeout(60)
while True:
    c, a = s.accept(); c.sendall(a[0].encode()); c.close()
`;
// argv: pairs of source and destination.
const GET = `import socket, sys
args = sys.argv[1:]
for src, dst in zip(args[0::2], args[1::2]):
    try:
        c = socket.create_connection((dst, 80), timeout=3, source_address=(src, 0)); print(src, dst, c.recv(100).decode()); c.close()
    except Exception as e:
        print(src, dst, 'error', type(e).__name__)
`;

describe.skipIf(!isRoot || !haveTools)('the v6 LoadBalancer firewall in the kernel', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'proxyfw6-'));
    await writeFile(path.join(dir, 'v4.nft'), fullSync(4));
    await writeFile(path.join(dir, 'v6.nft'), fullSync(6));
    await writeFile(path.join(dir, 'serve.py'), SERVE);
    await writeFile(path.join(dir, 'get.py'), GET);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lets an allowed v6 source through to the endpoint and drops a refused one; v4-only ranges leave v6 open', async () => {
    const inClient = (cmd: string) => `nsenter -t $cpid -n sh -c '${cmd}'`;
    const script = [
      'set -e',
      'ip link set lo up',
      // The client's namespace: a nested one, held by a sleeping process (gone with this shell's namespace).
      'unshare -n sleep 120 & cpid=$!',
      'me=$(readlink /proc/self/ns/net)',
      'i=0; while [ $i -lt 50 ] && [ "$(readlink /proc/$cpid/ns/net)" = "$me" ]; do sleep 0.1; i=$((i+1)); done',
      'ip link add h0 type veth peer name c0',
      'ip link set c0 netns $cpid',
      'ip link set h0 up',
      'ip -6 addr add 2001:db8:1::1/64 dev h0 nodad',
      'ip addr add 192.0.2.1/24 dev h0',
      'ip addr add 10.5.1.2/32 dev lo',
      'ip -6 addr add fc00:0:0:1::2/128 dev lo nodad',
      inClient(
        [
          'set -e',
          'ip link set lo up',
          'ip link set c0 up',
          'ip -6 addr add 2001:db8:1::7/64 dev c0 nodad',
          'ip -6 addr add 2001:db8:1::8/64 dev c0 nodad',
          'ip addr add 192.0.2.7/24 dev c0',
          'ip addr add 192.0.2.8/24 dev c0',
          'ip -6 route add default via 2001:db8:1::1',
          'ip route add default via 192.0.2.1',
        ].join('; '),
      ),
      `nft -f ${dir}/v4.nft`,
      `nft -f ${dir}/v6.nft`,
      `python3 ${dir}/serve.py & spid=$!`,
      'i=0; while [ $i -lt 50 ] && ! grep -q ":1F90 " /proc/net/tcp6; do sleep 0.1; i=$((i+1)); done',
      inClient(
        `python3 ${dir}/get.py 2001:db8:1::7 2001:db8:5::10 2001:db8:1::8 2001:db8:5::10 2001:db8:1::8 2001:db8:5::11 192.0.2.7 198.51.100.10 192.0.2.8 198.51.100.10 > ${dir}/out.txt`,
      ),
      `nft list set ip6 kube-proxy firewall-allow > ${dir}/allow6.txt`,
      'kill $spid $cpid',
    ].join('\n');
    const r = await run('unshare', ['-n', 'sh', '-c', script], { timeout: 90_000 }).catch((e: { stderr?: string; message: string }) => ({ stdout: '', stderr: e.stderr ?? e.message }));
    expect(r.stderr).toBe('');
    const out = (await readFile(path.join(dir, 'out.txt'), 'utf8')).trim().split('\n');
    expect(out).toEqual([
      // Allowed: the endpoint sees the client (a local endpoint behind the LoadBalancer address, no SNAT on input).
      '2001:db8:1::7 2001:db8:5::10 2001:db8:1::7',
      // Refused: dropped, so the client times out rather than being reset.
      '2001:db8:1::8 2001:db8:5::10 error TimeoutError',
      '2001:db8:1::8 2001:db8:5::11 2001:db8:1::8',
      '192.0.2.7 198.51.100.10 ::ffff:192.0.2.7',
      '192.0.2.8 198.51.100.10 error TimeoutError',
    ]);
    // The kernel holds the merged v6 range (the /126 inside the /125 is not there).
    const allow = await readFile(path.join(dir, 'allow6.txt'), 'utf8');
    expect(allow).toMatch(/2001:db8:5::10 \. tcp \. 80 \. 2001:db8:1::\/125/);
    expect(allow).not.toMatch(/2001:db8:1::4\/126/);
  }, 120_000);
});
