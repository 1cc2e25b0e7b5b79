// Running the project's daemons in a lab: an etcd inside the switch namespace (reachable from every
// host on the underlay), and flanneld started per host with its own subnet file.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdServer } from '../harness/etcd.js';
import type { Host, Lab, Proc } from './lab.js';

/** The repository root, whether this runs from test/ (vitest) or from dist/test/ (benchmarks). */
export const REPO = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5 && !existsSync(path.join(dir, 'package.json')); i++) dir = path.dirname(dir);
  return dir;
})();
/** The built daemon; the test command builds before it runs the tests. */
export const FLANNELD = path.join(REPO, 'dist/flanneld/main.js');

/** etcd in the lab's switch namespace, on the switch's underlay address (port 2379). */
export async function startLabEtcd(lab: Lab, opts: { readonly extraArgs?: readonly string[] } = {}): Promise<EtcdServer> {
  return EtcdServer.start({ netnsPath: lab.switch.nsPath, host: lab.switch.ip, dir: path.join(lab.dir, 'etcd'), ...(opts.extraArgs && { extraArgs: opts.extraArgs }) });
}

export interface FlanneldOptions {
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** Distinguishes the log file of a restart. */
  readonly tag?: string;
  /**
   * flanneld writes straight to its log file instead of through a pipe to this process, so it can
   * outlive this process (the demo's --keep). Its output is then not in Proc.stdout()/stderr().
   */
  readonly outputToFile?: boolean;
}

export const subnetFileOf = (h: Host): string => path.join(h.dir, 'subnet.env');

export function startFlanneld(h: Host, etcd: EtcdServer, o: FlanneldOptions = {}): Proc {
  const argv = [process.execPath, FLANNELD, `--etcd-endpoints=${etcd.endpoint}`, `--subnet-file=${subnetFileOf(h)}`, ...(o.args ?? [])];
  const logFile = path.join(h.dir, `flanneld${o.tag ? `-${o.tag}` : ''}.log`);
  // sh execs flanneld with stdout/stderr on the file: same PID, no pipe left to break.
  const wrapped = o.outputToFile ? ['sh', '-c', 'exec "$@" >>"$0" 2>&1', logFile, ...argv] : argv;
  return h.spawn(wrapped, { env: o.env ?? {}, logFile });
}

export async function readEnvFile(file: string): Promise<Record<string, string> | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    return Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  } catch {
    return undefined;
  }
}

/** Polls `probe` until it returns a value other than undefined/false, within `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline && i < Math.ceil(ms / everyMs) + 1; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** pino lines of a process's stderr, parsed. */
export function logRecords(p: Proc): Record<string, unknown>[] {
  return p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

export const hasLog = (p: Proc, msg: string | RegExp, fields: Record<string, unknown> = {}): boolean =>
  logRecords(p).some(
    (r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg))) && Object.entries(fields).every(([k, v]) => JSON.stringify(r[k]) === JSON.stringify(v)),
  );
