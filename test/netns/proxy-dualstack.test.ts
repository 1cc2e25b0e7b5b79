// The dual-stack proxy's rules in the real kernel: the v4 and v6 full syncs of one dual-stack service
// (ClusterIP, external IP) loaded by the real nft into `table ip kube-proxy` and `table ip6 kube-proxy`
// of a private network namespace (`unshare -n`: it dies with its process, nothing to clean up), and a
// client there reaching the service over v4 and over v6, each DNATed to the endpoint of its family.
// (Dual-stack pods under the kubelet are not in this lab: the kubelet reports one pod IP today.)
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
const haveTools = existsSync('/usr/sbin/nft') && existsSync('/usr/bin/unshare');

const svc: Service = {
  metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: {
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10', 'fd00:96::a'],
    ipFamilies: ['IPv4', 'IPv6'],
    ipFamilyPolicy: 'PreferDualStack',
    externalIPs: ['192.0.2.80', '2001:db8::80'],
    ports: [{ port: 80, targetPort: 8080 }],
  },
};
const eps: Endpoints = {
  metadata: { name: 'web', namespace: 'default' },
  subsets: [{ addresses: [{ ip: '10.5.1.2', nodeName: 'a' }, { ip: 'fc00:0:0:1::2', nodeName: 'a' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
};

function fullSync(family: 4 | 6): string {
  const st = new ProxyState({ masqMark: 0x4000, clusterCIDR: family === 6 ? 'fc00::/48' : '10.5.0.0/16', family });
  st.services.update('default/web', parseService('default/web', svc, family));
  st.endpoints.update('default/web', parseEndpoints('default/web', eps, 'a', family));
  return st.plan({ full: true }).script;
}

// The endpoint answers with the address it was reached on (after DNAT); the client prints it, or the error.
const SERVE = `import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 8080)); s.listen(16); s.settimeout(30)
while True:
    c, _ = s.accept(); c.sendall(c.getsockname()[0].encode()); c.close()
`;
const GET = `import socket, sys
for host in sys.argv[1:]:
    try:
        c = socket.create_connection((host, 80), timeout=3); print(host, c.recv(100).decode()); c.close()
    except Exception as e:
        print(host, 'error', type(e).__name__)
`;

describe.skipIf(!isRoot || !haveTools)('dual-stack kube-proxy rules in the kernel', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'proxy6-'));
    await writeFile(path.join(dir, 'v4.nft'), fullSync(4));
    await writeFile(path.join(dir, 'v6.nft'), fullSync(6));
    await writeFile(path.join(dir, 'serve.py'), SERVE);
    await writeFile(path.join(dir, 'get.py'), GET);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads both tables and reaches the service over v4 and v6 (ClusterIP and external IP)', async () => {
    const script = [
      'set -e',
      'ip link set lo up',
      // A veth pair (no dummy module needed): the frontends' routes leave by d0.
      'ip link add d0 type veth peer name d1',
      'ip link set d1 up',
      'ip link set d0 up',
      'ip addr add 10.5.1.2/32 dev lo',
      'ip -6 addr add fc00:0:0:1::2/128 dev lo nodad',
      // The frontends are routed out of the node, as a ClusterIP is; the DNAT in nat-output brings them back.
      'ip route add 10.96.0.0/24 dev d0',
      'ip route add 192.0.2.0/24 dev d0',
      'ip -6 route add fd00:96::/112 dev d0',
      'ip -6 route add 2001:db8::/64 dev d0',
      `nft -f ${dir}/v4.nft`,
      `nft -f ${dir}/v6.nft`,
      `python3 ${dir}/serve.py & pid=$!`,
      // Bounded wait for the listener.
      'i=0; while [ $i -lt 50 ] && ! grep -q ":1F90 " /proc/net/tcp6; do sleep 0.1; i=$((i+1)); done',
      `python3 ${dir}/get.py 10.96.0.10 fd00:96::a 192.0.2.80 2001:db8::80 > ${dir}/out.txt`,
      `nft -j list table ip6 kube-proxy > ${dir}/list6.json`,
      'kill $pid',
    ].join('\n');
    const r = await run('unshare', ['-n', 'sh', '-c', script], { timeout: 60_000 }).catch((e: { stderr?: string; message: string }) => ({ stdout: '', stderr: e.stderr ?? e.message }));
    expect(r.stderr).toBe('');
    const out = (await readFile(path.join(dir, 'out.txt'), 'utf8')).trim().split('\n');
    expect(out).toEqual(['10.96.0.10 ::ffff:10.5.1.2', 'fd00:96::a fc00:0:0:1::2', '192.0.2.80 ::ffff:10.5.1.2', '2001:db8::80 fc00:0:0:1::2']);
    const listed = JSON.parse(await readFile(path.join(dir, 'list6.json'), 'utf8')) as { nftables: { map?: { name: string; type: unknown; elem?: unknown[] } }[] };
    const serviceIps = listed.nftables.find((o) => o.map?.name === 'service-ips')?.map;
    expect(serviceIps?.type).toEqual(['ipv6_addr', 'inet_proto', 'inet_service']);
    expect(JSON.stringify(serviceIps?.elem)).toContain('fd00:96::a');
  }, 90_000);
});
