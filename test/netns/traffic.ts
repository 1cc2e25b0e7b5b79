// Traffic helpers run inside lab namespaces: ICMP via busybox ping (no iputils here), TCP via tiny
// node scripts (the test's own node binary), captures via tcpdump. All bounded in time.
import { LabError } from './exec.js';
import type { Proc } from './proc.js';
import type { Endpoint } from './types.js';

// ---------------------------------------------------------------- ping

export interface PingOptions {
  /** Echo requests to send; default 1. */
  count?: number;
  /** Overall deadline; default 3000 ms (rounded up to whole seconds for ping's -w). */
  timeoutMs?: number;
  /** Seconds between requests (busybox accepts fractions); default 0.2. */
  intervalS?: number;
  /** Payload bytes (-s). */
  size?: number;
}

export interface PingResult {
  /** At least one reply came back. */
  readonly ok: boolean;
  readonly transmitted: number;
  readonly received: number;
  /** Average round trip, when a reply came back. */
  readonly rttMs: number | undefined;
  readonly output: string;
}

/** The ping binary: /bin/busybox ping (iputils ping is not installed on this machine). */
export const PING = ['busybox', 'ping'] as const;

export async function ping(from: Endpoint, dstIp: string, opts: PingOptions = {}): Promise<PingResult> {
  const count = opts.count ?? 1;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const deadlineS = Math.max(1, Math.ceil(timeoutMs / 1000));
  const argv = [...PING, '-c', String(count), '-w', String(deadlineS), '-W', String(deadlineS), '-i', String(opts.intervalS ?? 0.2)];
  if (opts.size !== undefined) argv.push('-s', String(opts.size));
  argv.push(dstIp);
  const r = await from.exec(argv, { timeoutMs: deadlineS * 1000 + 2000 });
  const stats = /(\d+) packets transmitted, (\d+) packets received/.exec(r.stdout);
  const rtt = /min\/avg\/max = [\d.]+\/([\d.]+)\//.exec(r.stdout);
  const received = stats ? Number(stats[2]) : 0;
  return {
    ok: received > 0,
    transmitted: stats ? Number(stats[1]) : 0,
    received,
    rttMs: rtt ? Number(rtt[1]) : undefined,
    output: r.stdout + r.stderr,
  };
}

// ---------------------------------------------------------------- TCP

// Echo server: replies `<label>:<first line>` (or the line alone) and closes. argv: port label once bind lifetimeMs
const ECHO_SERVER = `
const net = require('net');
const [port, label, once, bind, life] = process.argv.slice(1);
if (Number(life) > 0) setTimeout(() => process.exit(3), Number(life)).unref();
const srv = net.createServer((s) => {
  let buf = '';
  s.setEncoding('utf8');
  s.setTimeout(10000, () => s.destroy());
  s.on('error', () => {});
  s.on('data', (d) => {
    buf += d;
    const i = buf.indexOf('\\n');
    if (i < 0) return;
    s.end((label ? label + ':' : '') + buf.slice(0, i) + '\\n');
    if (once === '1') srv.close();
  });
});
srv.on('error', (e) => { console.error('listen: ' + (e.code || e.message)); process.exit(1); });
srv.listen(Number(port), bind || '0.0.0.0', () => console.log('LISTENING ' + srv.address().port));
`;

// Client: sends `<payload>\n`, prints the reply. argv: host port payload timeoutMs
// The client times the exchange itself (from connect to its outcome, "@ms <n>" on stderr), so a
// figure such as "refused at once" does not include node's own start-up, which load can stretch.
const ECHO_CLIENT = `
const net = require('net');
const [host, port, payload, t] = process.argv.slice(1);
const t0 = Date.now();
const done = (code, err) => { if (err) console.error(err); console.error('@ms ' + (Date.now() - t0)); process.exit(code); };
const timer = setTimeout(() => done(2, 'timeout'), Number(t));
const s = net.connect({ host, port: Number(port) }, () => s.write(payload + '\\n'));
let buf = '';
s.setEncoding('utf8');
s.on('data', (d) => { buf += d; });
s.on('end', () => { clearTimeout(timer); process.stdout.write(buf); done(0); });
s.on('error', (e) => done(1, e.code || e.message));
`;

export interface TcpEcho {
  readonly proc: Proc;
  readonly port: number;
  /** Ends the server (SIGTERM, then SIGKILL), bounded. */
  stop(): Promise<void>;
}

export interface TcpEchoOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Prefix of each reply, e.g. the backend's name for service load-balancing checks. */
  label?: string;
  /** Serve one connection, then exit. */
  once?: boolean;
  bind?: string;
  /** The server exits by itself after this long (0 = only when stopped). */
  lifetimeMs?: number;
  readyTimeoutMs?: number;
}

/** Starts a TCP echo server inside the endpoint's namespace and waits until it listens. */
export async function startTcpEcho(at: Endpoint, opts: TcpEchoOptions = {}): Promise<TcpEcho> {
  const proc = at.spawn([
    process.execPath, '-e', ECHO_SERVER,
    String(opts.port ?? 0), opts.label ?? '', opts.once ? '1' : '0', opts.bind ?? '', String(opts.lifetimeMs ?? 0),
  ]);
  let out: string;
  try {
    out = await proc.waitForOutput(/LISTENING (\d+)/, opts.readyTimeoutMs ?? 5000, 'out');
  } catch (e) {
    await proc.stop(500);
    throw e;
  }
  const port = Number(/LISTENING (\d+)/.exec(out)?.[1]);
  return { proc, port, stop: async () => void (await proc.stop(1000)) };
}

export interface TcpProbeResult {
  /** Connected, sent the payload and got a reply that contains it. */
  readonly ok: boolean;
  /** The server's reply, trimmed. */
  readonly reply: string;
  /** Why it failed: ECONNREFUSED, EHOSTUNREACH, timeout, ... */
  readonly error: string | undefined;
  /** From the client's connect to its outcome (node's start-up left out). */
  readonly ms: number;
}

/** Connects from an endpoint to ip:port, sends one line, returns the reply. */
export async function tcpProbe(
  from: Endpoint,
  dstIp: string,
  port: number,
  opts: { payload?: string; timeoutMs?: number } = {},
): Promise<TcpProbeResult> {
  const payload = opts.payload ?? `probe-${from.name}`;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const r = await from.exec([process.execPath, '-e', ECHO_CLIENT, dstIp, String(port), payload, String(timeoutMs)], {
    timeoutMs: timeoutMs + 3000,
  });
  const reply = r.stdout.trim();
  const ok = r.code === 0 && reply.includes(payload);
  const timed = /^@ms (\d+)$/m.exec(r.stderr);
  const stderr = r.stderr.replace(/^@ms \d+\n?/m, '').trim();
  const error = ok ? undefined : r.timedOut ? 'timeout' : stderr || `exit ${r.code}`;
  return { ok, reply, error, ms: timed ? Number(timed[1]) : r.ms };
}

/** One bounded TCP exchange: a one-shot echo server in `server`, a client in `client`. */
export async function tcpCheck(
  server: Endpoint,
  client: Endpoint,
  opts: { port?: number; payload?: string; timeoutMs?: number; dstIp?: string } = {},
): Promise<TcpProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const echo = await startTcpEcho(server, { port: opts.port ?? 0, once: true, lifetimeMs: timeoutMs + 5000 });
  try {
    return await tcpProbe(client, opts.dstIp ?? server.ip, echo.port, { payload: opts.payload, timeoutMs });
  } finally {
    await echo.stop();
  }
}

// ---------------------------------------------------------------- capture

export interface CaptureOptions {
  /** tcpdump exits after this many packets (-c). */
  count?: number;
  /** The capture stops by itself after this long; default 10 s. */
  timeoutMs?: number;
  /** More tcpdump flags, e.g. ['-e'] for link-level headers or ['-vv']. */
  extraArgs?: readonly string[];
  readyTimeoutMs?: number;
}

export class Capture {
  private readonly timer: NodeJS.Timeout;
  constructor(readonly proc: Proc, timeoutMs: number) {
    this.timer = setTimeout(() => void this.proc.stop(1000), timeoutMs);
    this.timer.unref();
    void proc.exited.then(() => clearTimeout(this.timer));
  }

  /** Packet lines captured so far (tcpdump -l -n output, one line per packet unless -v). */
  lines(): string[] {
    return this.proc.stdout().split('\n').filter((l) => l.length > 0);
  }

  /** Waits until `n` lines arrived / a line matches / the predicate holds; false on timeout. */
  async waitFor(what: number | RegExp | ((lines: string[]) => boolean), timeoutMs: number): Promise<boolean> {
    const pred =
      typeof what === 'number'
        ? (ls: string[]) => ls.length >= what
        : what instanceof RegExp
          ? (ls: string[]) => ls.some((l) => what.test(l))
          : what;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      if (pred(this.lines())) return true;
      if (!this.proc.running) break;
      await new Promise((r) => setTimeout(r, Math.min(25, Math.max(1, deadline - Date.now()))));
    }
    return pred(this.lines());
  }

  /** Ends tcpdump (bounded) and returns every captured line. */
  async stop(): Promise<string[]> {
    clearTimeout(this.timer);
    await this.proc.stop(1500);
    return this.lines();
  }
}

/**
 * Runs `tcpdump -l -n -i <iface> [-c count] [extraArgs] <filter>` inside the endpoint's namespace and
 * resolves once tcpdump is listening, so traffic sent afterwards is seen.
 */
export async function capture(at: Endpoint, iface: string, filter: string, opts: CaptureOptions = {}): Promise<Capture> {
  const argv = ['tcpdump', '-l', '-n', '-i', iface];
  if (opts.count !== undefined) argv.push('-c', String(opts.count));
  argv.push(...(opts.extraArgs ?? []));
  if (filter.trim()) argv.push(filter);
  const proc = at.spawn(argv);
  try {
    await proc.waitForOutput(/listening on /, opts.readyTimeoutMs ?? 5000, 'err');
  } catch (e) {
    await proc.stop(500);
    throw new LabError(`capture on ${at.name}/${iface}`, argv, undefined, { cause: e });
  }
  return new Capture(proc, opts.timeoutMs ?? 10_000);
}
