// The pods of the network policy lab: each runs one small server in its own network namespace (the busybox
// image's nc has no UDP, so the host's node runs in the container, the host's /usr mounted read-only) that
// answers TCP 80, 81, 5000, 5001 and UDP 80 with its name, and takes probe requests from the test over a
// unix socket in a host directory mounted at /ctl. The probes start in the pod's network namespace, as a
// client in the pod would send them; only the control channel is outside the network.
import { createConnection } from 'node:net';
import path from 'node:path';

export const PROBE_PORTS = ['tcp/80', 'tcp/81', 'udp/80'] as const;
export type ProbePort = (typeof PROBE_PORTS)[number] | 'tcp/5000' | 'tcp/5001';

// argv: name. Control requests, one JSON line each: {probe: [[ip, proto, port]...], timeoutMs} → {results: bool[]};
// {hold: [ip, port]} opens a TCP connection kept open; {held: true} → {ok} whether it still echoes.
export const SERVER_JS = `
const net = require('net'), dgram = require('dgram'), fs = require('fs');
const name = process.argv[2];
for (const p of [80, 81, 5000, 5001]) net.createServer((c) => { c.on('error', () => {}); c.write(name + '\\n'); if (p !== 81) c.end(); else c.on('data', (d) => c.write(d)); }).listen(p);
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(name, r.port, r.address)); u.bind(80);
function probe(ip, proto, port, ms) {
  return new Promise((res) => {
    let done = false; const fin = (v) => { if (!done) { done = true; clearTimeout(t); try { s.destroy ? s.destroy() : s.close(); } catch {} res(v); } };
    const t = setTimeout(() => fin(false), ms);
    let s;
    if (proto === 'udp') { s = dgram.createSocket('udp4'); s.on('error', () => fin(false)); s.on('message', () => fin(true)); s.send('x', port, ip); }
    else { s = net.connect(port, ip); s.on('error', () => fin(false)); s.on('data', () => fin(true)); }
  });
}
let held;
const sock = '/ctl/' + name + '.sock';
try { fs.unlinkSync(sock); } catch {}
net.createServer((c) => {
  let buf = '';
  c.on('error', () => {});
  c.on('data', async (d) => {
    buf += d; let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const req = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
      if (req.probe) { const results = await Promise.all(req.probe.map(([ip, proto, port]) => probe(ip, proto, port, req.timeoutMs))); c.write(JSON.stringify({ results }) + '\\n'); }
      else if (req.hold) { held = net.connect(req.hold[1], req.hold[0]); held.on('error', () => {}); held.once('data', () => c.write(JSON.stringify({ ok: true }) + '\\n')); }
      else if (req.held) {
        const ok = await new Promise((res) => { if (!held || held.destroyed) return res(false); const t = setTimeout(() => res(false), req.timeoutMs || 1500); held.once('data', () => { clearTimeout(t); res(true); }); held.write('ping\\n'); });
        c.write(JSON.stringify({ ok }) + '\\n');
      }
    }
  });
}).listen(sock, () => console.log('ready ' + name));
`;

export interface LabPod {
  readonly ns: string;
  readonly name: string;
  readonly node: string;
  readonly labels: Record<string, string>;
}

export const podId = (p: { ns: string; name: string }): string => `${p.ns}/${p.name}`;

/** The pod's manifest; `ctlDir` is the host directory with server.js and the control sockets. */
export function podYaml(p: LabPod, ctlDir: string): string {
  const labels = Object.entries(p.labels).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${p.name}`,
    `  namespace: "${p.ns}"`,
    '  labels:',
    ...labels,
    'spec:',
    `  nodeName: ${p.node}`,
    '  terminationGracePeriodSeconds: 1',
    '  containers:',
    '  - name: srv',
    '    image: flannel-test/busybox:latest',
    `    command: ["/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--library-path", "/usr/lib/x86_64-linux-gnu", "/usr/bin/node", "/ctl/server.js", "${p.ns}.${p.name}"]`,
    '    ports:',
    '    - {name: serve-80-tcp, containerPort: 80, protocol: TCP}',
    '    - {name: serve-81-tcp, containerPort: 81, protocol: TCP}',
    '    - {name: serve-80-udp, containerPort: 80, protocol: UDP}',
    '    volumeMounts:',
    '    - {name: usr, mountPath: /usr, readOnly: true}',
    '    - {name: ctl, mountPath: /ctl}',
    '  volumes:',
    '  - {name: usr, hostPath: {path: /usr}}',
    `  - {name: ctl, hostPath: {path: ${ctlDir}}}`,
    '',
  ].join('\n');
}

/** One request to a pod's control socket, bounded. */
export function control<T>(ctlDir: string, p: { ns: string; name: string }, req: unknown, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path.join(ctlDir, `${p.ns}.${p.name}.sock`));
    let buf = '';
    const t = setTimeout(() => (c.destroy(), reject(new Error(`control ${podId(p)}: no answer in ${timeoutMs} ms`))), timeoutMs);
    c.on('error', (e) => (clearTimeout(t), reject(e)));
    c.on('data', (d) => {
      buf += String(d);
      const i = buf.indexOf('\n');
      if (i < 0) return;
      clearTimeout(t);
      c.destroy();
      resolve(JSON.parse(buf.slice(0, i)) as T);
    });
    c.write(`${JSON.stringify(req)}\n`);
  });
}

export type Truth = Map<string, boolean>;
export const cell = (from: string, to: string, port: string): string => `${from}>${to}@${port}`;

/** The observed and expected tables as grids, one per port, X marking a difference. */
export function formatTruth(pods: readonly string[], ports: readonly string[], observed: Truth, expected: Truth): string {
  const out: string[] = [];
  const w = Math.max(...pods.map((p) => p.length));
  for (const port of ports) {
    out.push(`${port}: rows from, columns to; observed (expected), X = differs`);
    out.push(`${' '.repeat(w)} ${pods.map((p) => p.padEnd(w)).join(' ')}`);
    for (const f of pods) {
      const cells = pods.map((t) => {
        const o = observed.get(cell(f, t, port));
        const e = expected.get(cell(f, t, port));
        return `${o ? '.' : '-'}(${e ? '.' : '-'})${o === e ? ' ' : 'X'}`.padEnd(w);
      });
      out.push(`${f.padEnd(w)} ${cells.join(' ')}`);
    }
  }
  return out.join('\n');
}
