// The in-lab half of the control-plane benchmark (controlplane.ts): one short-lived node process started
// inside a lab host's namespace (the host that runs flanneld), so that it reaches etcd over the underlay
// exactly as flanneld does, sees that host's routes through its own netlink notification socket, and
// timestamps both with one clock. One job per run, chosen by argv[2]; the result is one `RESULT <json>`
// line on stdout.
//
//   bulk   grant one etcd lease and write `count` fake vxlan peer leases in transactions of `batch` puts,
//          `parallel` transactions in flight; report the wall-clock time of the first and the last write
//          and, from route notifications, when the last of the peers' routes appeared on flannel.1.
//   rtt    the baseline: put a key, wait for the watch notification of that put; `n` times, one at a time.
//   converge  (flanneld restarting with the leases already in etcd) subscribe to route notifications,
//          print `WATCHING` on stdout, and report when the `count`-th distinct peer route (10/8 outside
//          10.0/16, on any device: flanneld recreates flannel.1) appeared.
//   events write `count` more leases one at a time, each followed by waiting for its route on flannel.1
//          (`--mode=seq`, then `gap` ms pause) or every `gap` ms regardless (`--mode=open`); report each
//          lease's write → route latency.
//
// Peer number i (0-based, global across jobs) gets subnet 10.1.0.0/24 + i (one slot further from
// `--skip`, the slot of flanneld's own lease, on), public IP 198.18.0.0/15 + 1 + i
// (the benchmark range: nothing in the lab uses it) and VtepMAC 0a:62:xx:xx:xx:xx (locally administered).
import { pathToFileURL } from 'node:url';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import { openNetlink, type Netlink, type NetlinkEvent } from '../../netlink/index.js';

let parsed: Map<string, string> | undefined;
const args = (): Map<string, string> =>
  (parsed ??= new Map(
    process.argv.slice(3).map((a) => {
      const m = /^--([^=]+)=(.*)$/.exec(a);
      if (!m) throw new RangeError(`bad argument ${a}`);
      return [m[1]!, m[2]!] as const;
    }),
  ));
const arg = (k: string, dflt?: string): string => {
  const v = args().get(k) ?? dflt;
  if (v === undefined) throw new RangeError(`missing --${k}`);
  return v;
};
const num = (k: string, dflt?: number): number => {
  const v = Number(arg(k, dflt === undefined ? undefined : String(dflt)));
  if (!Number.isFinite(v)) throw new RangeError(`--${k} is not a number`);
  return v;
};

const hex = (n: number): string => (n & 255).toString(16).padStart(2, '0');
const PEER_BASE = (10 << 24) | (1 << 16); // 10.1.0.0
const PUB_BASE = (198 << 24) | (18 << 16); // 198.18.0.0
const ip4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export interface FakePeer {
  readonly subnet: string;
  /** The subnet's .0: the neighbour / route gateway flanneld programs. */
  readonly gw: string;
  readonly keyName: string;
  readonly publicIP: string;
  readonly mac: string;
  /** The lease value, as flanneld writes it (renderLeaseAttrs). */
  readonly value: string;
}

/** The /24 number (from 10.1.0.0) of a subnet: what `skip` takes. */
export function peerSlot(subnet: string): number {
  const [o1, o2, o3] = subnet.split('.').map(Number) as [number, number, number];
  return ((((o1 << 24) | (o2 << 16) | (o3 << 8)) >>> 0) - PEER_BASE) / 256;
}

/** Fake peer number i; `skip` is a /24 slot left out (the one flanneld leased for itself). */
export function peerOf(i: number, skip = -1): FakePeer {
  const slot = skip >= 0 && i >= skip ? i + 1 : i;
  const gw = ip4((PEER_BASE + slot * 256) >>> 0);
  const publicIP = ip4((PUB_BASE + 1 + i) >>> 0);
  const mac = `0a:62:00:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`;
  const value = JSON.stringify({ PublicIP: publicIP, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } });
  return { subnet: `${gw}/24`, gw, keyName: `${gw}-24`, publicIP, mac, value };
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every route added on `dev`, with the time its notification arrived. */
class RouteClock {
  readonly seen = new Map<string, number>();
  overflowed = false;
  private waiters = new Map<string, () => void>();
  private readonly ac = new AbortController();
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly nl: Netlink) {}

  async start(dev: string): Promise<void> {
    const link = await this.nl.getLink(dev);
    if (!link) throw new Error(`no device ${dev}`);
    const watch = this.nl.watch({ groups: ['ipv4-route'], signal: this.ac.signal, maxQueued: 1_000_000 });
    this.done = (async () => {
      for await (const ev of watch as AsyncIterable<NetlinkEvent>) {
        const t = now();
        if (ev.kind === 'overflow') this.overflowed = true;
        if (ev.kind !== 'route' || ev.action !== 'new' || ev.route.ifindex !== link.index) continue;
        if (!this.seen.has(ev.route.dst)) this.seen.set(ev.route.dst, t);
        this.waiters.get(ev.route.dst)?.();
      }
    })();
  }

  /** Resolves with the arrival time of the route to `dst`, or undefined after `ms`. */
  async waitFor(dst: string, ms: number): Promise<number | undefined> {
    const t = this.seen.get(dst);
    if (t !== undefined) return t;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.waiters.set(dst, resolve);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.waiters.delete(dst);
    return this.seen.get(dst);
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}

function client(): Etcd3 {
  return new Etcd3({ hosts: [arg('endpoint')], dialTimeout: 5_000 });
}

async function bulk(): Promise<unknown> {
  const prefix = arg('prefix');
  const count = num('count');
  const first = num('first', 0);
  const batch = num('batch', 100);
  const parallel = num('parallel', 4);
  const ttl = num('ttl', 600);
  const waitMs = num('wait-ms', 240_000);
  const etcd = client();
  const nl = openNetlink();
  const routes = new RouteClock(nl);
  try {
    await routes.start(arg('dev', 'flannel.1'));
    const lease = await etcd.leaseClient.leaseGrant({ TTL: ttl, ID: 0 });
    const id = lease.ID;
    const peers = Array.from({ length: count }, (_, k) => peerOf(first + k, num('skip', -1)));
    let next = 0;
    const t0 = now();
    const writer = async (): Promise<void> => {
      for (let i = 0; i < Math.ceil(count / batch) + 1 && next < count; i++) {
        const chunk = peers.slice(next, next + batch);
        next += chunk.length;
        await etcd.kv.txn({
          success: chunk.map((p) => ({ request_put: { key: Buffer.from(`${prefix}/subnets/${p.keyName}`), value: Buffer.from(p.value), lease: id } })),
        });
      }
    };
    await Promise.all(Array.from({ length: parallel }, writer));
    const t1 = now();
    // The last route to appear (from notifications; the caller also polls the routing table).
    const deadline = Date.now() + waitMs;
    for (const p of peers) {
      const left = deadline - Date.now();
      if (left <= 0 || (await routes.waitFor(p.subnet, left)) === undefined) break;
    }
    const times = peers.map((p) => routes.seen.get(p.subnet)).filter((t): t is number => t !== undefined);
    // Routes over time after the first write, in 1 s buckets: how convergence progresses.
    const perSecond: number[] = [];
    for (const t of times) {
      const b = Math.floor((t - t0) / 1000);
      perSecond[b] = (perSecond[b] ?? 0) + 1;
    }
    return {
      leaseId: id,
      t0,
      writeMs: t1 - t0,
      routesSeen: times.length,
      lastRouteMs: times.length ? Math.max(...times) - t0 : undefined,
      firstRouteMs: times.length ? Math.min(...times) - t0 : undefined,
      overflowed: routes.overflowed,
      perSecond: Array.from(perSecond, (x) => x ?? 0),
    };
  } finally {
    await routes.stop();
    nl.close();
    etcd.close();
  }
}

async function rtt(): Promise<unknown> {
  const n = num('n', 200);
  const etcd = client();
  const key = '/bench/rtt/k';
  let watcher: Watcher | undefined;
  try {
    watcher = await etcd.watch().key(key).create();
    let wake: ((v: string) => void) | undefined;
    watcher.on('put', (kv: IKeyValue) => wake?.(kv.value.toString()));
    const samples: number[] = [];
    for (let i = 0; i < n + 10; i++) {
      const v = String(i);
      const t = now();
      const got = new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 5_000);
        wake = (x) => {
          if (x !== v) return;
          clearTimeout(timer);
          resolve(x);
        };
      });
      await etcd.put(key).value(v);
      if ((await got) === undefined) throw new Error(`no watch notification for put ${i}`);
      if (i >= 10) samples.push(now() - t); // the first few warm the connection up
    }
    return { samples };
  } finally {
    await watcher?.cancel().catch(() => undefined);
    etcd.close();
  }
}

async function events(): Promise<unknown> {
  const prefix = arg('prefix');
  const count = num('count');
  const first = num('first');
  const gap = num('gap', 20);
  const mode = arg('mode', 'seq');
  const id = arg('lease');
  const perEventMs = num('timeout-ms', 30_000);
  const etcd = client();
  const nl = openNetlink();
  const routes = new RouteClock(nl);
  try {
    await routes.start(arg('dev', 'flannel.1'));
    const writes: { subnet: string; t: number }[] = [];
    const t0 = now();
    for (let k = 0; k < count; k++) {
      const p = peerOf(first + k, num('skip', -1));
      const t = now();
      await etcd.put(`${prefix}/subnets/${p.keyName}`).value(p.value).lease(id);
      writes.push({ subnet: p.subnet, t });
      if (mode === 'seq') {
        if ((await routes.waitFor(p.subnet, perEventMs)) === undefined) throw new Error(`route ${p.subnet} did not appear within ${perEventMs} ms`);
      }
      const pause = mode === 'seq' ? gap : t + gap - now();
      if (pause > 0) await sleep(pause);
    }
    const deadline = Date.now() + perEventMs;
    for (const w of writes) {
      if ((await routes.waitFor(w.subnet, Math.max(1, deadline - Date.now()))) === undefined) break;
    }
    const latencies = writes.map((w) => (routes.seen.get(w.subnet) ?? NaN) - w.t);
    return { latencies, missing: latencies.filter((x) => Number.isNaN(x)).length, totalMs: now() - t0, overflowed: routes.overflowed };
  } finally {
    await routes.stop();
    nl.close();
    etcd.close();
  }
}

async function converge(): Promise<unknown> {
  const count = num('count');
  const waitMs = num('wait-ms', 120_000);
  const nl = openNetlink();
  const ac = new AbortController();
  const seen = new Set<string>();
  let overflowed = false;
  let last: number | undefined;
  const timer = setTimeout(() => ac.abort(), waitMs);
  try {
    const watch = nl.watch({ groups: ['ipv4-route'], signal: ac.signal, maxQueued: 1_000_000 });
    process.stdout.write('WATCHING\n');
    for await (const ev of watch as AsyncIterable<NetlinkEvent>) {
      if (ev.kind === 'overflow') overflowed = true;
      // Peer routes have a gateway; the local and broadcast routes of flanneld's own /32 do not.
      if (ev.kind !== 'route' || ev.action !== 'new' || ev.route.gw === undefined || !/^10\.(?!0\.)/.test(ev.route.dst)) continue;
      seen.add(ev.route.dst);
      if (seen.size >= count) {
        last = now();
        break;
      }
    }
    return { lastRouteAt: last, routesSeen: seen.size, overflowed };
  } finally {
    clearTimeout(timer);
    ac.abort();
    nl.close();
  }
}

const jobs: Record<string, () => Promise<unknown>> = { bulk, rtt, events, converge };

async function main(): Promise<void> {
  const job = jobs[process.argv[2] ?? ''];
  if (!job) {
    process.stderr.write(`usage: controlplane-agent.js bulk|rtt|events|converge --endpoint=... [--key=value...]\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const r = await job();
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  } catch (e) {
    process.stderr.write(`controlplane-agent ${process.argv[2]}: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}

// Run only as a script: controlplane.ts imports peerOf() from here for its hand-made baseline.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
