// Running the service proxy in a lab: kube-proxy per host (in the host's namespace), cluster objects
// written into the lab's etcd as the kubelet and a user would write them, backends that are lab pods
// running labelled TCP/UDP echo servers, and clients that count which backend answered.
import path from 'node:path';
import type { EtcdServer } from '../harness/index.js';
import type { Pod as PodObj, Service } from '../../cluster/index.js';
import { REPO } from './flannel.js';
import type { Endpoint, Host, Pod, Proc } from './lab.js';

export const KUBE_PROXY = path.join(REPO, 'dist/proxy/main.js');

export interface ProxyProcOptions {
  readonly args?: readonly string[];
  /** The store flags instead of the lab etcd's --etcd-endpoints (e.g. --master=http://…). */
  readonly storeArgs?: readonly string[];
  readonly tag?: string;
}

/** kube-proxy in the host's namespace, named after the host, talking to the lab's etcd. */
export function startProxy(h: Host, etcd: EtcdServer, o: ProxyProcOptions = {}): Proc {
  const argv = [process.execPath, KUBE_PROXY, ...(o.storeArgs ?? [`--etcd-endpoints=${etcd.endpoint}`]), `--hostname-override=${h.name}`, '--healthz-bind-address=127.0.0.1', ...(o.args ?? [])];
  return h.spawn(argv, { logFile: path.join(h.dir, `kube-proxy${o.tag ? `-${o.tag}` : ''}.log`) });
}

export const podKey = (ns: string, name: string) => `/registry/pods/${ns}/${name}`;
export const serviceKey = (ns: string, name: string) => `/registry/services/specs/${ns}/${name}`;
export const endpointsKey = (ns: string, name: string) => `/registry/services/endpoints/${ns}/${name}`;

export interface PodSpecLite {
  readonly name: string;
  readonly namespace?: string;
  readonly node: string;
  readonly ip: string;
  readonly labels: Record<string, string>;
  readonly ready?: boolean;
  readonly ports?: { name: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
}

/** A Running pod as the kubelet would report it (Ready condition as given). */
export function podObject(p: PodSpecLite): PodObj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace ?? 'default', labels: p.labels, uid: `uid-${p.name}` },
    spec: { nodeName: p.node, containers: [{ name: 'main', image: 'lab', ports: p.ports ?? [] }] },
    status: {
      phase: 'Running',
      podIP: p.ip,
      conditions: [{ type: 'Ready', status: p.ready === false ? 'False' : 'True' }],
    },
  };
}

export async function putPod(etcd: EtcdServer, p: PodSpecLite): Promise<void> {
  await etcd.ctl(['put', podKey(p.namespace ?? 'default', p.name), JSON.stringify(podObject(p))]);
}

export async function putService(etcd: EtcdServer, name: string, spec: Service['spec'], namespace = 'default'): Promise<void> {
  const svc: Service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, creationTimestamp: new Date().toISOString() }, spec };
  await etcd.ctl(['put', serviceKey(namespace, name), JSON.stringify(svc)]);
}

export async function getJson<T>(etcd: EtcdServer, key: string): Promise<T | undefined> {
  const out = (await etcd.ctl(['get', '--print-value-only', key])).trim();
  return out ? (JSON.parse(out) as T) : undefined;
}

/** Lists keys under a prefix with their values. */
export async function listJson<T>(etcd: EtcdServer, prefix: string): Promise<Map<string, T>> {
  const out = await etcd.ctl(['get', '--prefix', prefix, '-w', 'json']);
  const j = JSON.parse(out) as { kvs?: { key: string; value: string }[] };
  return new Map((j.kvs ?? []).map((kv) => [Buffer.from(kv.key, 'base64').toString(), JSON.parse(Buffer.from(kv.value, 'base64').toString()) as T]));
}

// ---------------------------------------------------------------- backends and clients

// UDP echo: replies `<label>:<payload>` to the sender. argv: port label
const UDP_ECHO = `
const dgram = require('dgram');
const [port, label] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => s.send(label + ':' + m.toString().trim() + '\\n', r.port, r.address));
s.on('error', (e) => { console.error('udp: ' + e.message); process.exit(1); });
s.bind(Number(port), () => console.log('LISTENING ' + port));
`;

export async function startUdpEcho(at: Endpoint, port: number, label: string): Promise<Proc> {
  const proc = at.spawn([process.execPath, '-e', UDP_ECHO, String(port), label]);
  await proc.waitForOutput(/LISTENING/, 5_000, 'out');
  return proc;
}

// Many TCP connections in one process, `conc` at a time; prints {"label": count, "error:CODE": count}.
// argv: host port n conc timeoutMs payload
const TCP_MANY = `
const net = require('net');
const [host, port, n, conc, t, payload] = process.argv.slice(1);
const counts = {};
const add = (k) => (counts[k] = (counts[k] || 0) + 1);
let started = 0;
function one() {
  return new Promise((res) => {
    const s = net.connect({ host, port: Number(port) });
    let buf = '';
    const timer = setTimeout(() => { add('error:timeout'); s.destroy(); res(); }, Number(t));
    s.setEncoding('utf8');
    s.on('connect', () => s.write(payload + '\\n'));
    s.on('data', (d) => (buf += d));
    s.on('end', () => { clearTimeout(timer); add(buf.trim().split(':')[0] || 'empty'); res(); });
    s.on('error', (e) => { clearTimeout(timer); add('error:' + (e.code || e.message)); res(); });
  });
}
async function worker() { while (started < Number(n)) { started++; await one(); } }
Promise.all(Array.from({ length: Number(conc) }, worker)).then(() => console.log(JSON.stringify(counts)));
`;

export interface ConnectResult {
  /** Replies by backend label. */
  readonly counts: Record<string, number>;
  /** Failures by error code (ECONNREFUSED, timeout, ...). */
  readonly errors: Record<string, number>;
  readonly ms: number;
}

/** `n` TCP connections from an endpoint to ip:port, `conc` at a time; counts who answered. */
export async function connectMany(from: Endpoint, ip: string, port: number, n: number, o: { conc?: number; timeoutMs?: number } = {}): Promise<ConnectResult> {
  const t = o.timeoutMs ?? 3_000;
  const conc = o.conc ?? 8;
  const r = await from.exec([process.execPath, '-e', TCP_MANY, ip, String(port), String(n), String(conc), String(t), 'hello'], { timeoutMs: Math.ceil(n / conc) * (t + 500) + 10_000 });
  const all = JSON.parse(r.stdout.trim() || '{}') as Record<string, number>;
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const [k, v] of Object.entries(all)) (k.startsWith('error:') ? errors : counts)[k.replace(/^error:/, '')] = v;
  return { counts, errors, ms: r.ms };
}

// One UDP exchange from a fixed source port: prints the reply or TIMEOUT. argv: host port sport payload timeoutMs
const UDP_ONCE = `
const dgram = require('dgram');
const [host, port, sport, payload, t] = process.argv.slice(1);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const timer = setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, Number(t));
s.on('message', (m) => { clearTimeout(timer); console.log(m.toString().trim()); process.exit(0); });
s.on('error', (e) => { console.log('ERROR:' + (e.code || e.message)); process.exit(0); });
s.bind(Number(sport), () => s.send(payload, Number(port), host));
`;

/** One datagram from `from`'s source port `sport` to ip:port; the reply (`label:payload`) or 'TIMEOUT'. */
export async function udpOnce(from: Endpoint, ip: string, port: number, sport: number, timeoutMs = 1_500): Promise<string> {
  const r = await from.exec([process.execPath, '-e', UDP_ONCE, ip, String(port), String(sport), 'ping', String(timeoutMs)], { timeoutMs: timeoutMs + 5_000 });
  return r.stdout.trim();
}

/** The host side of the pod's veth in hairpin mode, as the CNI bridge plugin sets it (hairpinMode). */
export async function hairpinOn(p: Pod): Promise<void> {
  await p.host.ipCmd(['link', 'set', p.hostVeth, 'type', 'bridge_slave', 'hairpin', 'on']);
}

/** Elements of a map or set of the proxy's table on a host, as nft prints them. */
export async function nftElements(h: Host, set: string): Promise<string[]> {
  const r = await h.exec(['nft', '-j', 'list', 'set', 'ip', 'kube-proxy', set]).catch(() => undefined);
  const r2 = r && r.code === 0 ? r : await h.exec(['nft', '-j', 'list', 'map', 'ip', 'kube-proxy', set]);
  if (r2.code !== 0) return [];
  const j = JSON.parse(r2.stdout) as { nftables: ({ set?: { elem?: unknown[] }; map?: { elem?: unknown[] } })[] };
  const obj = j.nftables.find((o) => o.set || o.map);
  return (obj?.set?.elem ?? obj?.map?.elem ?? []).map((e) => JSON.stringify(e));
}

/**
 * Writes a Service and waits until a proxy has allocated it (ClusterIP, and node ports for a
 * NodePort service); returns it as stored. For tests that need the service's address, e.g. the
 * kubelet's `<NAME>_SERVICE_HOST` variables in the seeds' web + db example.
 */
export async function putServiceAllocated(etcd: EtcdServer, name: string, spec: Service['spec'], namespace = 'default', timeoutMs = 15_000): Promise<Service> {
  await putService(etcd, name, spec, namespace);
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 1000; i++) {
    const s = await getJson<Service>(etcd, serviceKey(namespace, name));
    const needsPorts = s?.spec.type === 'NodePort' && s.spec.ports.some((p) => !p.nodePort);
    if (s?.spec.clusterIP && !needsPorts) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service ${namespace}/${name} was not allocated within ${timeoutMs} ms (is a kube-proxy running?)`);
}
