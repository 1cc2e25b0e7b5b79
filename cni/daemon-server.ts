// The CNI daemon's socket side: one connection per plugin exec (the shim's), read the request, say
// 'R' or 'D' (daemon-codec.ts), wait for 'G', run the plugin's skeleton in this process and send the
// exit code, stdout and stderr back. A request from another network or mount namespace is declined:
// its paths and links are not ours, so the shim runs the plugin where it is.
import { chmod, stat, unlink } from 'node:fs/promises';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { errorMessage } from '../core/index.js';
import { DECLINE, FrameError, GO, type NsId, READY, type ShimRequest, decodeRequest, encodeResponse, sameNamespaces, takeFrame } from './daemon-codec.js';
import type { PluginFuncs, PluginInfo } from './skel.js';
import { dispatch } from './skel.js';

export interface DaemonPlugin {
  readonly funcs: PluginFuncs;
  readonly info: PluginInfo;
}

/** The plugin the shim named, with its stderr going to `stderr` (this request's answer), or undefined. */
export type PluginFactory = (name: string, stderr: (chunk: Buffer | string) => void) => DaemonPlugin | undefined;

export interface DaemonLog {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface CniDaemonOptions {
  readonly socketPath: string;
  readonly plugins: PluginFactory;
  /** The namespaces this process runs in; requests from others are declined. */
  readonly own: { readonly netns: NsId; readonly mntns: NsId };
  readonly isOwnNetns: (path: string) => Promise<boolean>;
  readonly log: DaemonLog;
  /** How long a connection may take to send its request, and then its 'G'. */
  readonly requestTimeoutMs?: number;
}

export interface CniDaemon {
  readonly socketPath: string;
  /** Requests running now. */
  inFlight(): number;
  /** Stops accepting, waits (bounded) for running requests, removes the socket. */
  close(drainMs?: number): Promise<void>;
}

/** The identity of /proc/self/ns/<kind>. */
export async function ownNamespace(kind: 'net' | 'mnt'): Promise<NsId> {
  const s = await stat(`/proc/self/ns/${kind}`, { bigint: true });
  return { dev: s.dev, ino: s.ino };
}

/** Removes a socket file nobody listens on; refuses to steal one a live daemon answers. */
async function clearStaleSocket(file: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(file);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${file}: another CNI daemon is listening there`);
  await unlink(file).catch((e: unknown) => {
    if (!(e instanceof Error && 'code' in e && e.code === 'ENOENT')) throw e;
  });
}

function envRecord(env: ShimRequest['env']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of env) if (!Object.hasOwn(out, k)) out[k] = v; // getenv(3) returns the first
  return out;
}

export async function startCniDaemon(o: CniDaemonOptions): Promise<CniDaemon> {
  const timeoutMs = o.requestTimeoutMs ?? 10_000;
  const running = new Set<Promise<void>>();

  async function serve(sock: Socket, req: ShimRequest): Promise<void> {
    const t0 = performance.now();
    const env = envRecord(req.env);
    const stderr: Buffer[] = [];
    const plugin = o.plugins(req.plugin, (c) => stderr.push(typeof c === 'string' ? Buffer.from(c) : c));
    if (!plugin) throw new Error('unreachable: checked before READY');
    const out = await dispatch(plugin.funcs, plugin.info, { env, readStdin: () => Promise.resolve(req.stdin.toString('utf8')), isOwnNetns: o.isOwnNetns });
    if (out.stderr) stderr.push(Buffer.from(out.stderr));
    o.log.debug({ plugin: req.plugin, command: env.CNI_COMMAND, containerId: env.CNI_CONTAINERID, exitCode: out.exitCode, ms: Math.round(performance.now() - t0) }, 'request served');
    sock.end(encodeResponse({ exitCode: out.exitCode, stdout: Buffer.from(out.stdout), stderr: Buffer.concat(stderr) }));
  }

  function onConnection(sock: Socket): void {
    let buf: Buffer = Buffer.alloc(0);
    let req: ShimRequest | undefined;
    let started = false;
    const timer = setTimeout(() => {
      o.log.warn({ phase: req ? 'waiting for go' : 'reading request' }, 'shim connection timed out');
      sock.destroy();
    }, timeoutMs);
    const decline = (why: string, fields: Record<string, unknown> = {}) => {
      clearTimeout(timer);
      o.log.info({ ...fields, why }, 'request declined: the shim runs the plugin itself');
      sock.end(Buffer.from([DECLINE]));
    };
    sock.on('error', (e) => o.log.debug({ err: errorMessage(e) }, 'shim connection error'));
    sock.on('close', () => clearTimeout(timer));
    sock.on('data', (chunk: Buffer) => {
      if (started) return; // nothing follows 'G'
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (!req) {
        let frame;
        try {
          frame = takeFrame(buf);
          if (!frame) return;
          req = decodeRequest(frame.body);
        } catch (e) {
          if (e instanceof FrameError) return decline(`bad request: ${e.message}`);
          throw e;
        }
        buf = frame.rest;
        if (!sameNamespaces(req, o.own)) return decline('the shim runs in another network or mount namespace', { plugin: req.plugin });
        if (!o.plugins(req.plugin, () => undefined)) return decline(`no plugin ${JSON.stringify(req.plugin)} in this daemon`, { plugin: req.plugin });
        sock.write(Buffer.from([READY]));
      }
      if (buf.length === 0) return;
      if (buf[0] !== GO) {
        clearTimeout(timer);
        o.log.warn({ byte: buf[0] }, 'shim sent something other than go; dropped');
        sock.destroy();
        return;
      }
      started = true;
      clearTimeout(timer);
      const p = serve(sock, req)
        .catch((e: unknown) => {
          o.log.warn({ plugin: req?.plugin, err: errorMessage(e) }, 'request failed');
          sock.destroy();
        })
        .finally(() => running.delete(p));
      running.add(p);
    });
  }

  await clearStaleSocket(o.socketPath);
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: o.socketPath, backlog: 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Anyone who can connect can have plugins run as us (root): only the owner may.
  await chmod(o.socketPath, 0o600);

  return {
    socketPath: o.socketPath,
    inFlight: () => running.size,
    async close(drainMs = 30_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(o.socketPath).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.all([...running]).then(() => undefined);
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
      clearTimeout(timer);
      void closed;
    },
  };
}
