// The Docker Engine API over its unix socket, with node:http and no client library.
//
// Why not dockerode: the kubelet uses a dozen endpoints (containers list/inspect/create/start/stop/
// remove, exec, image inspect and import, version). dockerode would bring docker-modem, ssh2 (with
// an optional native module), tar-fs and, since v4, gRPC and protobuf for BuildKit, and it returns
// untyped objects all the same. Here every answer goes through one parser (parse*) that returns a
// typed value or a DockerError naming the field, every call has a deadline, and the API version is
// pinned after one negotiation, so answers have the shape this file expects (STYLE 3.10, 3.14).
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { FlannelError, errorMessage, isObject } from '../common/index.js';

/** The API version this client speaks (Docker 20.10); an older daemon's own version is used instead. */
export const DOCKER_API_VERSION = '1.41';

export class DockerError extends FlannelError {
  readonly code: string = 'DOCKER';
  override readonly transient: boolean;
  constructor(
    readonly op: string,
    /** The HTTP status, or undefined when the daemon did not answer. */
    readonly status: number | undefined,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`docker ${op}: ${status === undefined ? 'no answer' : `HTTP ${status}`}: ${detail}`, options);
    this.transient = status === undefined || status >= 500;
  }
}

/** The daemon did not answer within the call's deadline. */
export class DockerTimeoutError extends DockerError {
  override readonly code = 'DOCKER_TIMEOUT';
  constructor(
    op: string,
    /** The request, `METHOD /path` (without the query). */
    readonly request: string,
    readonly timeoutMs: number,
  ) {
    super(op, undefined, `${request}: timed out after ${timeoutMs} ms`);
  }
}

/** The connection failed, or closed before a complete answer (daemon down, restarted, hung up). */
export class DockerNoAnswerError extends DockerError {
  override readonly code = 'DOCKER_NO_ANSWER';
  constructor(
    op: string,
    readonly request: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(op, undefined, `${request}: ${reason}`, options);
  }
}

/** The answer was longer than the client reads (MAX_BODY_BYTES); it is refused, not cut short. */
export class DockerBodyTooLargeError extends DockerError {
  override readonly code = 'DOCKER_BODY_TOO_LARGE';
  override readonly transient = false;
  constructor(
    op: string,
    readonly request: string,
    status: number,
    readonly limitBytes: number,
  ) {
    super(op, status, `${request}: the answer is larger than ${limitBytes} bytes; not read`);
  }
}

/** The largest answer the client reads (an exec's output, a container list). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export const isNotFound = (e: unknown): boolean => e instanceof DockerError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof DockerError && e.status === 409;

// ---------------------------------------------------------------- typed answers

export interface DockerVersion {
  readonly version: string;
  readonly apiVersion: string;
  readonly kernelVersion: string;
  readonly os: string;
  readonly arch: string;
}

export interface ContainerSummary {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  /** created, running, paused, restarting, removing, exited, dead */
  readonly state: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Unix seconds. */
  readonly created: number;
}

export interface ContainerDetails {
  readonly id: string;
  readonly name: string;
  /** The image ID (sha256:…). */
  readonly imageId: string;
  /** The image as asked for at create time. */
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number;
  readonly oomKilled: boolean;
  readonly error: string;
  /** RFC 3339, undefined when never started / not finished. */
  readonly startedAt: string | undefined;
  readonly finishedAt: string | undefined;
  readonly createdAt: string | undefined;
  readonly pid: number;
  /** Address on the default bridge (docker0), when it has one. */
  readonly ip: string | undefined;
  /** Docker with --ipv6: the container's global IPv6 address (a dual-stack pod's second). */
  readonly ip6?: string;
  /** Config.Tty: its output is raw, not framed (logs, attach). */
  readonly tty: boolean;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly output: string;
  readonly timedOut: boolean;
}

type Json = Record<string, unknown>;

function obj(v: unknown, path: string, op: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DockerError(op, 200, `${path}: expected an object`);
  return v as Json;
}
const str = (o: Json, k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
const num = (o: Json, k: string): number => (typeof o[k] === 'number' ? (o[k] as number) : 0);
function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Docker's times have nanoseconds and use year 1 for "never"; ours are RFC 3339 with milliseconds or undefined. */
export function dockerTime(s: string): string | undefined {
  if (!s || s.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function parseVersion(v: unknown): DockerVersion {
  const o = obj(v, 'version', 'version');
  return { version: str(o, 'Version'), apiVersion: str(o, 'ApiVersion'), kernelVersion: str(o, 'KernelVersion'), os: str(o, 'Os'), arch: str(o, 'Arch') };
}

export function parseContainerList(v: unknown): ContainerSummary[] {
  if (!Array.isArray(v)) throw new DockerError('list containers', 200, 'expected an array');
  return v.map((x, i) => {
    const o = obj(x, `[${i}]`, 'list containers');
    const names = Array.isArray(o.Names) ? o.Names.filter((n): n is string => typeof n === 'string') : [];
    return { id: str(o, 'Id'), name: (names[0] ?? '').replace(/^\//, ''), image: str(o, 'Image'), state: str(o, 'State'), labels: labelsOf(o.Labels), created: num(o, 'Created') };
  });
}

export function parseContainerDetails(v: unknown): ContainerDetails {
  const op = 'inspect container';
  const o = obj(v, 'container', op);
  const st = obj(o.State ?? {}, 'State', op);
  const cfg = obj(o.Config ?? {}, 'Config', op);
  const net = obj(o.NetworkSettings ?? {}, 'NetworkSettings', op);
  let ip = str(net, 'IPAddress');
  if (!ip && typeof net.Networks === 'object' && net.Networks !== null) {
    for (const n of Object.values(net.Networks as Json)) {
      if (typeof n === 'object' && n !== null && typeof (n as Json).IPAddress === 'string' && (n as Json).IPAddress) {
        ip = (n as Json).IPAddress as string;
        break;
      }
    }
  }
  let ip6 = str(net, 'GlobalIPv6Address');
  if (!ip6 && typeof net.Networks === 'object' && net.Networks !== null) {
    for (const n of Object.values(net.Networks as Json)) {
      if (typeof n === 'object' && n !== null && typeof (n as Json).GlobalIPv6Address === 'string' && (n as Json).GlobalIPv6Address) {
        ip6 = (n as Json).GlobalIPv6Address as string;
        break;
      }
    }
  }
  return {
    id: str(o, 'Id'),
    name: str(o, 'Name').replace(/^\//, ''),
    imageId: str(o, 'Image'),
    image: str(cfg, 'Image'),
    labels: labelsOf(cfg.Labels),
    status: str(st, 'Status'),
    running: st.Running === true,
    exitCode: num(st, 'ExitCode'),
    oomKilled: st.OOMKilled === true,
    error: str(st, 'Error'),
    startedAt: dockerTime(str(st, 'StartedAt')),
    finishedAt: dockerTime(str(st, 'FinishedAt')),
    createdAt: dockerTime(str(o, 'Created')),
    pid: num(st, 'Pid'),
    ip: ip || undefined,
    ...(ip6 && { ip6 }),
    tty: cfg.Tty === true,
  };
}

/**
 * Splits Docker's multiplexed attach stream (non-TTY): frames of an 8-byte header (stream 1 = stdout,
 * 2 = stderr; bytes 4..7 the big-endian length) and the payload. A truncated tail is kept as is.
 */
export function demuxStream(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const len = buf.readUInt32BE(i + 4);
    const body = buf.subarray(i + 8, Math.min(buf.length, i + 8 + len));
    (kind === 2 ? err : out).push(body);
    i += 8 + len;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

// ---------------------------------------------------------------- the client

export interface DockerEndpoint {
  readonly socketPath?: string;
  readonly host?: string;
  readonly port?: number;
}

/** `unix:///var/run/docker.sock` or `tcp://host:port` (plain HTTP). */
export function parseDockerEndpoint(s: string): DockerEndpoint {
  if (s.startsWith('unix://')) {
    const p = s.slice('unix://'.length);
    if (!p.startsWith('/')) throw new RangeError(`docker endpoint ${s}: the socket path must be absolute`);
    return { socketPath: p };
  }
  const m = /^(?:tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(s);
  if (m) return { host: m[1]!, port: Number(m[2]) };
  if (s.startsWith('/')) return { socketPath: s };
  throw new RangeError(`docker endpoint ${s}: expected unix:///path or tcp://host:port`);
}

interface CallOptions {
  readonly query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  readonly body?: unknown;
  readonly raw?: Buffer;
  readonly contentType?: string;
  readonly timeoutMs?: number;
  /** Status codes that count as success besides 2xx (e.g. 304 for stop). */
  readonly ok?: readonly number[];
  /** A fresh connection that is not reused (hijacked streams such as exec start). */
  readonly noKeepAlive?: boolean;
  readonly signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class DockerClient {
  private readonly agent: Agent;
  private version = DOCKER_API_VERSION;

  constructor(readonly endpoint: DockerEndpoint) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 32 });
  }

  close(): void {
    this.agent.destroy();
  }

  /** GET /version, and pins the API version to min(ours, the daemon's). */
  async negotiate(): Promise<DockerVersion> {
    const v = parseVersion(await this.json('version', 'GET', '/version', { timeoutMs: 5_000 }, false));
    if (v.apiVersion && compareVersions(v.apiVersion, DOCKER_API_VERSION) < 0) this.version = v.apiVersion;
    return v;
  }

  async ping(timeoutMs = 2_000): Promise<boolean> {
    try {
      await this.call('ping', 'GET', '/_ping', { timeoutMs }, false);
      return true;
    } catch {
      return false;
    }
  }

  /** Every container (running or not) that carries `label` (a key, or key=value). */
  /** The containers with `label` (key=value); with `running`, only those running (Docker's own list, all=0). */
  async listContainers(label: string, o: { running?: boolean } = {}): Promise<ContainerSummary[]> {
    return parseContainerList(await this.json('list containers', 'GET', '/containers/json', { query: { all: o.running ? 0 : 1, filters: JSON.stringify({ label: [label] }) } }));
  }

  async inspectContainer(id: string): Promise<ContainerDetails> {
    return parseContainerDetails(await this.json('inspect container', 'GET', `/containers/${encodeURIComponent(id)}/json`));
  }

  /** Creates a container; returns its ID. */
  async createContainer(name: string, config: Json): Promise<string> {
    const o = obj(await this.json('create container', 'POST', '/containers/create', { query: { name }, body: config }), 'create', 'create container');
    const id = str(o, 'Id');
    if (!id) throw new DockerError('create container', 200, 'no Id in the answer');
    return id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('start container', 'POST', `/containers/${encodeURIComponent(id)}/start`, { ok: [304] });
  }

  /** The container's stop signal, then SIGKILL after `graceSec`; resolves when it has stopped. */
  async stopContainer(id: string, graceSec: number): Promise<void> {
    await this.call('stop container', 'POST', `/containers/${encodeURIComponent(id)}/stop`, {
      query: { t: Math.max(0, Math.floor(graceSec)) },
      ok: [304],
      timeoutMs: graceSec * 1000 + DEFAULT_TIMEOUT_MS,
    });
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.call('remove container', 'DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: true, v: true } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** The image's ID, or undefined when it is not present locally. */
  async imageId(ref: string): Promise<string | undefined> {
    try {
      return str(obj(await this.json('inspect image', 'GET', `/images/${encodeURIComponent(ref)}/json`), 'image', 'inspect image'), 'Id');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** `docker import`: a root file system tarball becomes repo:tag, with Dockerfile-style changes (CMD …). */
  async importImage(tar: Buffer, repo: string, tag: string, changes: readonly string[]): Promise<void> {
    const query = { fromSrc: '-', repo, tag, changes };
    const res = await this.call('import image', 'POST', '/images/create', { query, raw: tar, contentType: 'application/x-tar', timeoutMs: 120_000 });
    // The answer is a JSON progress stream; a failure is a line with "error".
    for (const line of res.body.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const o = JSON.parse(line) as Json;
        if (typeof o.error === 'string') throw new DockerError('import image', res.status, o.error);
      } catch (e) {
        if (e instanceof DockerError) throw e;
      }
    }
  }

  /** Runs argv in a running container (docker exec), bounded by timeoutMs. */
  async exec(id: string, argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
    const created = obj(
      await this.json('exec create', 'POST', `/containers/${encodeURIComponent(id)}/exec`, { body: { AttachStdout: true, AttachStderr: true, Cmd: argv } }),
      'exec',
      'exec create',
    );
    const execId = str(created, 'Id');
    let timedOut = false;
    let output = '';
    try {
      const res = await this.call('exec start', 'POST', `/exec/${execId}/start`, { body: { Detach: false, Tty: false }, timeoutMs, noKeepAlive: true });
      const { stdout, stderr } = demuxStream(res.body);
      output = (stdout + stderr).slice(0, 10_000);
    } catch (e) {
      // Only the deadline is a timeout (the probe's verdict); a daemon that hung up is an error.
      if (!(e instanceof DockerTimeoutError)) throw e;
      timedOut = true;
    }
    if (timedOut) return { exitCode: -1, output, timedOut };
    const info = obj(await this.json('exec inspect', 'GET', `/exec/${execId}/json`), 'exec', 'exec inspect');
    return { exitCode: typeof info.ExitCode === 'number' ? info.ExitCode : -1, output, timedOut };
  }

  /** Creates an exec instance (POST /containers/<id>/exec); returns its ID. */
  async execCreate(id: string, o: { cmd: readonly string[]; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): Promise<string> {
    const body = { AttachStdin: o.stdin, AttachStdout: o.stdout, AttachStderr: o.stderr, Tty: o.tty, Cmd: o.cmd };
    const execId = str(obj(await this.json('exec create', 'POST', `/containers/${encodeURIComponent(id)}/exec`, { body }), 'exec', 'exec create'), 'Id');
    if (!execId) throw new DockerError('exec create', 200, 'no Id in the answer');
    return execId;
  }

  /** An exec instance's state: whether it still runs, and its exit code once it has finished. */
  async execInspect(execId: string): Promise<{ running: boolean; exitCode: number | undefined }> {
    const o = obj(await this.json('exec inspect', 'GET', `/exec/${encodeURIComponent(execId)}/json`), 'exec', 'exec inspect');
    return { running: o.Running === true, exitCode: typeof o.ExitCode === 'number' ? o.ExitCode : undefined };
  }

  async execResize(execId: string, height: number, width: number): Promise<void> {
    await this.call('exec resize', 'POST', `/exec/${encodeURIComponent(execId)}/resize`, { query: { h: height, w: width } });
  }

  async containerResize(id: string, height: number, width: number): Promise<void> {
    await this.call('container resize', 'POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }

  /**
   * A streaming GET (container logs): resolves with the answer once its headers are in, a 2xx; any other status
   * is a DockerError with the daemon's message. The caller reads (and destroys) the body.
   */
  stream(op: string, path: string, query: CallOptions['query'], signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request({ ...this.target(), path: this.fullPath(path, query), method: 'GET', agent: false, headers: { Host: 'docker' }, ...(signal && { signal }) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        void errorOf(op, res).then(reject);
      });
      req.on('error', (e) => reject(new DockerNoAnswerError(op, `GET ${path}`, errorMessage(e), { cause: e })));
      req.end();
    });
  }

  /**
   * Docker's event stream (GET /events with these filters): each event's JSON object, until the signal
   * aborts or the daemon ends the stream; `onConnected` once the daemon has answered. A line that is
   * not JSON is skipped.
   */
  async *events(filters: Record<string, readonly string[]>, signal: AbortSignal, onConnected?: () => void): AsyncGenerator<Json> {
    const res = await this.stream('events', '/events', { filters: JSON.stringify(filters) }, signal);
    onConnected?.();
    let buf = '';
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        buf += chunk.toString('utf8');
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let ev: unknown;
          try {
            ev = JSON.parse(line);
          } catch {
            continue;
          }
          if (isObject(ev)) yield ev as Json;
        }
      }
    } finally {
      res.destroy();
    }
  }

  /**
   * POST with `Upgrade: tcp` (exec start, attach): the daemon answers 101 and the connection becomes the
   * process's stdin (what is written) and its output (what is read: framed unless it has a TTY). `head` is
   * output that came with the answer.
   */
  hijack(op: string, path: string, query: CallOptions['query'], body: unknown): Promise<{ socket: Duplex; head: Buffer }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const what = `POST ${path}`;
    return new Promise((resolve, reject) => {
      const req = request({
        ...this.target(),
        path: this.fullPath(path, query),
        method: 'POST',
        agent: false,
        headers: { Host: 'docker', Connection: 'Upgrade', Upgrade: 'tcp', ...(payload && { 'Content-Type': 'application/json', 'Content-Length': payload.length }) },
      });
      const timer = setTimeout(() => {
        reject(new DockerTimeoutError(op, what, DEFAULT_TIMEOUT_MS));
        req.destroy();
      }, DEFAULT_TIMEOUT_MS);
      req.on('upgrade', (_res, socket, head) => {
        clearTimeout(timer);
        resolve({ socket, head });
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        void errorOf(op, res).then(reject);
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(new DockerNoAnswerError(op, what, errorMessage(e), { cause: e }));
      });
      req.end(payload);
    });
  }

  private target(): { socketPath: string } | { host: string | undefined; port: number | undefined } {
    return this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port };
  }

  private fullPath(path: string, query: CallOptions['query'] = {}, versioned = true): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) qs.append(k, String(x));
      else qs.append(k, String(v));
    }
    const q = qs.toString();
    return `${versioned ? `/v${this.version}` : ''}${path}${q ? `?${q}` : ''}`;
  }

  // ---- transport

  private async json(op: string, method: string, path: string, o: CallOptions = {}, versioned = true): Promise<unknown> {
    const res = await this.call(op, method, path, o, versioned);
    const text = res.body.toString('utf8');
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new DockerError(op, res.status, `answer is not JSON: ${errorMessage(e)}`);
    }
  }

  private call(op: string, method: string, path: string, o: CallOptions = {}, versioned = true): Promise<{ status: number; body: Buffer }> {
    const fullPath = this.fullPath(path, o.query, versioned);
    const payload = o.raw ?? (o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body)));
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const what = `${method} ${path}`;
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: DockerError | undefined, v?: { status: number; body: Buffer }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(v!);
      };
      const req = request(
        {
          ...(this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port }),
          path: fullPath,
          method,
          agent: o.noKeepAlive ? false : this.agent,
          headers: {
            Host: 'docker',
            ...(payload && { 'Content-Type': o.contentType ?? 'application/json', 'Content-Length': payload.length }),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_BODY_BYTES) chunks.push(c);
            else {
              finish(new DockerBodyTooLargeError(op, what, res.statusCode ?? 0, MAX_BODY_BYTES));
              req.destroy();
            }
          });
          res.on('error', (e) => finish(new DockerNoAnswerError(op, what, errorMessage(e), { cause: e })));
          res.on('close', () => {
            if (!res.complete) finish(new DockerNoAnswerError(op, what, 'the connection closed before the answer was complete'));
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const body = Buffer.concat(chunks);
            if ((status >= 200 && status < 300) || o.ok?.includes(status)) return finish(undefined, { status, body });
            let detail = body.toString('utf8').trim();
            try {
              const m = (JSON.parse(detail) as Json).message;
              if (typeof m === 'string') detail = m;
            } catch {
              // not JSON: keep the text
            }
            finish(new DockerError(op, status, detail.slice(0, 2000)));
          });
        },
      );
      const timer = setTimeout(() => {
        finish(new DockerTimeoutError(op, what, timeoutMs));
        req.destroy();
      }, timeoutMs);
      const onAbort = (): void => {
        finish(new DockerNoAnswerError(op, what, 'aborted'));
        req.destroy();
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e) => finish(new DockerNoAnswerError(op, what, errorMessage(e), { cause: e })));
      req.end(payload);
    });
  }
}

/** A refused streaming call's DockerError, with the daemon's message (read up to 64 KiB). */
async function errorOf(op: string, res: IncomingMessage): Promise<DockerError> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > 65_536) break;
      chunks.push(c);
    }
  } catch {
    // what was read is the message
  }
  res.destroy();
  let detail = Buffer.concat(chunks).toString('utf8').trim();
  try {
    const m = (JSON.parse(detail) as Json).message;
    if (typeof m === 'string') detail = m;
  } catch {
    // not JSON: keep the text
  }
  return new DockerError(op, res.statusCode ?? 0, detail.slice(0, 2000));
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
