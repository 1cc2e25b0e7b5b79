// A small Kubernetes API client: JSON requests and newline-delimited JSON watches over node:http or
// node:https with keep-alive agents, client-certificate or bearer-token authentication, several
// servers tried in order (the seeds' `--api-servers=a,b`: the first that answers is kept). Written
// here instead of @kubernetes/client-node: the daemons need a handful of verbs, not its dependency tree.
// Requests that did not reach a server, and 429/5xx answers, are retried a bounded number of times
// with a back-off; every other answer that is not 2xx is an ApiStatusError with the Status's message.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Backoff, errorMessage, FlannelError, type Logger, silentLogger, sleep } from '../common/index.js';
import type { ApiConnection } from './kubeconfig.js';

/** The server answered with an error Status. */
export class ApiStatusError extends FlannelError {
  readonly code = 'API_STATUS';
  override readonly transient: boolean;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    /** The Status's reason (`Conflict`, `NotFound`, `Expired`), when it sent one. */
    readonly reason: string | undefined,
    readonly statusMessage: string,
  ) {
    super(`${method} ${url}: ${status}${reason ? ` ${reason}` : ''}: ${statusMessage}`);
    this.transient = status === 429 || status >= 500 || status === 409;
  }
}

/** No server could be reached (refused, reset, timed out) after the bounded retries. */
export class ApiUnreachableError extends FlannelError {
  readonly code = 'API_UNREACHABLE';
  override readonly transient = true;
  constructor(
    readonly method: string,
    readonly url: string,
    cause: unknown,
  ) {
    super(`${method} ${url}: ${errorMessage(cause)}`, { cause });
  }
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: Record<string, unknown>;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /** Attempts for a request that did not reach a server or got 429/5xx (default 4). */
  readonly attempts?: number;
  /** The body's type when it is not the default (a PATCH is a JSON merge patch), e.g. a strategic merge patch. */
  readonly contentType?: string;
}

export interface ApiClientOptions {
  readonly log?: Logger;
  readonly timeoutMs?: number;
  /** Back-off between retries: from minMs doubling to maxMs. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Pure: a query string from the set values. */
export function queryString(q: Readonly<Record<string, string | undefined>> | undefined): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Pure: a Status body's reason and message (or the raw text when it is not one). */
/** The request reached the API and was answered with one of these HTTP codes. */
export const isStatus = (e: unknown, ...codes: number[]): boolean => e instanceof ApiStatusError && codes.includes(e.status);

export function statusOf(code: number, text: string): { reason?: string; message: string } {
  try {
    const j: unknown = JSON.parse(text);
    if (isObj(j) && j.kind === 'Status') return { ...(typeof j.reason === 'string' && { reason: j.reason }), message: typeof j.message === 'string' ? j.message : `HTTP ${code}` };
  } catch {
    // not JSON: the text itself
  }
  return { message: text.trim().slice(0, 200) || `HTTP ${code}` };
}

export class ApiClient {
  private readonly http = new HttpAgent({ keepAlive: true });
  private readonly https: HttpsAgent;
  private current = 0;
  private readonly log: Logger;
  private token: string | undefined;
  private tokenReadAt = 0;

  constructor(
    readonly conn: ApiConnection,
    private readonly o: ApiClientOptions = {},
  ) {
    if (conn.servers.length === 0) throw new RangeError('an API client needs at least one server');
    this.log = o.log ?? silentLogger;
    this.token = conn.token;
    this.tokenReadAt = Date.now();
    this.https = new HttpsAgent({
      keepAlive: true,
      ...(conn.ca && { ca: conn.ca }),
      ...(conn.cert && { cert: conn.cert }),
      ...(conn.key && { key: conn.key }),
      rejectUnauthorized: conn.insecureSkipTlsVerify !== true,
    });
  }

  /** The server requests go to now. */
  get server(): string {
    return this.conn.servers[this.current]!;
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  /** One JSON request; the parsed 2xx body. Throws ApiStatusError or ApiUnreachableError. */
  async request(method: string, path: string, ro: RequestOptions = {}): Promise<unknown> {
    const attempts = Math.max(1, ro.attempts ?? 4);
    const backoff = new Backoff(this.o.retryMinMs ?? 100, this.o.retryMaxMs ?? 2_000);
    let last: FlannelError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0 && !(await sleep(backoff.next(), ro.signal))) break;
      const url = `${this.server}${path}${queryString(ro.query)}`;
      let res: { status: number; text: string };
      try {
        res = await this.send(method, url, ro.body, ro.signal, ro.contentType);
      } catch (e) {
        if (ro.signal?.aborted) throw new ApiUnreachableError(method, url, e);
        last = new ApiUnreachableError(method, url, e);
        this.failover(url, e);
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        try {
          return res.text ? (JSON.parse(res.text) as unknown) : undefined;
        } catch (e) {
          throw new ApiStatusError(method, url, res.status, 'BadResponse', `the answer is not JSON: ${errorMessage(e)}`);
        }
      }
      const st = statusOf(res.status, res.text);
      last = new ApiStatusError(method, url, res.status, st.reason, st.message);
      if (!(res.status === 429 || res.status >= 500)) throw last;
    }
    throw last ?? new ApiUnreachableError(method, `${this.server}${path}`, new Error('aborted'));
  }

  /**
   * A watch: the events as they arrive, grouped by the chunk they came in, until the server ends the
   * response (it returns then) or the signal aborts (it returns). A non-2xx answer is an ApiStatusError;
   * a connection that fails is an ApiUnreachableError (the caller decides on retrying).
   */
  async *watch(path: string, query: Readonly<Record<string, string | undefined>>, signal: AbortSignal): AsyncIterable<WatchEvent[]> {
    const url = `${this.server}${path}${queryString({ ...query, watch: 'true' })}`;
    let res: IncomingMessage;
    try {
      // Idle limit: the server ends the watch after timeoutSeconds; silence well beyond it is a dead connection.
      const idleMs = (Number(query.timeoutSeconds ?? 300) + 30) * 1000;
      res = await this.open('GET', url, undefined, signal, idleMs);
    } catch (e) {
      if (signal.aborted) return;
      this.failover(url, e);
      throw new ApiUnreachableError('GET', url, e);
    }
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      const text = await readAll(res).catch(() => '');
      const st = statusOf(code, text);
      throw new ApiStatusError('GET', url, code, st.reason, st.message);
    }
    let buf = '';
    res.setEncoding('utf8');
    try {
      for await (const chunk of res as AsyncIterable<string>) {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        const events: WatchEvent[] = [];
        for (const line of lines) {
          if (!line.trim()) continue;
          let ev: unknown;
          try {
            ev = JSON.parse(line);
          } catch (e) {
            throw new ApiStatusError('GET', url, code, 'BadWatchEvent', `a watch event is not JSON: ${errorMessage(e)}`);
          }
          if (!isObj(ev) || typeof ev.type !== 'string' || !isObj(ev.object)) throw new ApiStatusError('GET', url, code, 'BadWatchEvent', 'a watch event has no type or object');
          events.push(ev as unknown as WatchEvent);
        }
        if (events.length) yield events;
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof FlannelError) throw e;
      throw new ApiUnreachableError('GET', url, e);
    } finally {
      res.destroy();
    }
  }

  /** A request that did not reach the server: with several servers, the next one is tried. */
  private failover(url: string, e: unknown): void {
    if (this.conn.servers.length < 2) return;
    const from = this.server;
    this.current = (this.current + 1) % this.conn.servers.length;
    this.log.warn({ url, err: errorMessage(e), from, to: this.server }, 'API server unreachable; trying the next');
  }

  private async send(method: string, url: string, body: unknown, signal: AbortSignal | undefined, contentType?: string): Promise<{ status: number; text: string }> {
    const res = await this.open(method, url, body, signal, this.o.timeoutMs ?? 30_000, contentType);
    return { status: res.statusCode ?? 0, text: await readAll(res) };
  }

  private open(method: string, url: string, body: unknown, signal: AbortSignal | undefined, timeoutMs: number, contentType?: string): Promise<IncomingMessage> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const tls = url.startsWith('https:');
    const headers: Record<string, string | number> = { Accept: 'application/json', 'User-Agent': 'flannel-ts' };
    if (data !== undefined) {
      headers['Content-Type'] = contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      headers['Content-Length'] = Buffer.byteLength(data);
    }
    const token = this.bearer();
    if (token) headers.Authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(url, { method, headers, agent: tls ? this.https : this.http, ...(signal && { signal }) }, resolve);
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  /** The token, the file read again once a minute as client-go's file token source does; the last good read when the file is briefly unreadable. */
  private bearer(): string | undefined {
    const file = this.conn.tokenFile;
    if (file && Date.now() - this.tokenReadAt >= TOKEN_FILE_PERIOD_MS) {
      this.tokenReadAt = Date.now();
      try {
        this.token = readFileSync(file, 'utf8').trim() || this.token;
      } catch (e) {
        this.log.warn({ file, err: errorMessage(e) }, 'cannot read the token file again; keeping the token read before');
      }
    }
    return this.token;
  }
}

const TOKEN_FILE_PERIOD_MS = 60_000;

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the response was cut off')));
  });
}
