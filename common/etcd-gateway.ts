// etcd v3's JSON gateway (the grpc-gateway every etcd ≥3.4 serves on its client port, under /v3):
// the unary KV and lease calls over plain HTTP/1.1 with node:http, so a daemon can read and write
// etcd before etcd3, gRPC and protobufjs are loaded (flanneld's first lease). Hand-written because
// no installed package speaks it. Only for plain-http endpoints: over TLS the gateway re-dials etcd
// with the server's own certificate, so a client certificate's CN would no longer be the etcd user.
import http from 'node:http';
import type { EtcdOptions } from './etcd.js';
import { AsyncQueue } from './queue.js';

/** A key and value as text, and the etcd lease it carries ('0': none). */
export interface KvPair {
  readonly key: string;
  readonly value: string;
  readonly lease: string;
}

/** The endpoint answered without a gateway (404 in plain text): the caller falls back to gRPC. */
export class NoGatewayError extends Error {}

/** An error etcd returned through the gateway ({"error", "code", "message"}), or an HTTP failure. */
export class GatewayCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A bound on one listing's range calls (10 million keys at the default page size). */
const MAX_PAGES = 20_000;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The range end that makes a range a prefix query, as clientv3.GetPrefixRangeEnd. */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

interface RawKv {
  key?: string;
  value?: string;
  lease?: string;
}

/** etcd's WatchResponse as proto3 JSON: zero values (a PUT event's type, revision 0) are left out. */
export interface GatewayWatchResponse {
  readonly header?: { readonly revision?: string };
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: string;
  readonly cancel_reason?: string;
  readonly events?: readonly { readonly type?: 'PUT' | 'DELETE'; readonly kv?: RawKv }[];
}

/** A key and value of a watch event, decoded. */
export const kvPairOf = (kv: RawKv | undefined): KvPair => ({ key: unb64(kv?.key), value: unb64(kv?.value), lease: kv?.lease ?? '0' });

export class EtcdGateway {
  private token: string | undefined;
  /** The endpoint that answered last, tried first. */
  private preferred = 0;

  constructor(
    private readonly o: EtcdOptions,
    private readonly timeoutMs = o.callTimeoutMs ?? 10_000,
    /** Keys per range call of a listing. */
    private readonly pageSize = 500,
  ) {}

  /** Whether these options can use the gateway (plain-http endpoints, no TLS files). */
  static usable(o: EtcdOptions): boolean {
    return !o.cafile && !o.certfile && !o.keyfile && o.endpoints.length > 0 && o.endpoints.every((e) => e.startsWith('http://'));
  }

  async get(key: string): Promise<KvPair | undefined> {
    return (await this.range({ key: b64(key) })).kvs[0];
  }

  /**
   * Every key under the prefix at one revision, read `pageSize` keys at a time (the later pages at
   * the first one's revision): one response of 5,000 leases, as JSON text, then parsed, then decoded,
   * was the peak of a restarted flanneld's memory, which V8 then kept.
   */
  async list(prefix: string): Promise<{ kvs: KvPair[]; revision: bigint }> {
    const end = prefixRangeEnd(prefix).toString('base64');
    const first = await this.range({ key: b64(prefix), range_end: end, limit: String(this.pageSize) });
    const kvs = first.kvs;
    let more = first.more;
    for (let page = 1; more && page < MAX_PAGES; page++) {
      // From just after the last key: its bytes and a zero byte.
      const after = Buffer.concat([Buffer.from(kvs[kvs.length - 1]!.key, 'utf8'), Buffer.from([0])]).toString('base64');
      const next = await this.range({ key: after, range_end: end, limit: String(this.pageSize), revision: first.revision.toString() });
      kvs.push(...next.kvs);
      more = next.more && next.kvs.length > 0;
    }
    if (more) throw new GatewayCallError(`listing ${prefix}: more than ${MAX_PAGES} pages of ${this.pageSize} keys`, 200);
    return { kvs, revision: first.revision };
  }

  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.call('/v3/kv/put', putBody(key, value, lease));
  }

  /** Puts only when the key does not exist (version 0); false when it does. */
  async createIfAbsent(key: string, value: string, lease?: string): Promise<boolean> {
    const res = await this.call('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'VERSION', result: 'EQUAL', version: '0' }],
      success: [{ request_put: putBody(key, value, lease) }],
    });
    return res.succeeded === true;
  }

  async delete(key: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: b64(key) });
  }

  async grant(ttlSec: number): Promise<string> {
    const res = await this.call('/v3/lease/grant', { TTL: String(ttlSec), ID: '0' });
    if (typeof res.error === 'string' && res.error !== '') throw new GatewayCallError(`lease grant: ${res.error}`, 200);
    return String(res.ID);
  }

  async revoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  /** One keep-alive; the TTL left, 0 when the lease is gone (proto3 JSON leaves a zero TTL out). */
  async keepAliveOnce(id: string): Promise<number> {
    const res = await this.call('/v3/lease/keepalive', { ID: id });
    const result = (res.result ?? res) as { TTL?: unknown };
    return Number(result.TTL ?? 0);
  }

  /**
   * One watch stream (POST /v3/watch: one JSON WatchResponse per line, as long as etcd keeps it
   * open) on the first endpoint that answers; the iterator ends when the stream does, or the signal aborts.
   */
  async openWatch(prefix: string, startRevision: bigint, signal: AbortSignal): Promise<AsyncIterable<GatewayWatchResponse>> {
    if (this.o.username && this.token === undefined) await this.authenticate();
    const body = { create_request: { key: b64(prefix), range_end: prefixRangeEnd(prefix).toString('base64'), start_revision: startRevision.toString() } };
    const n = this.o.endpoints.length;
    const failures: string[] = [];
    for (let i = 0; i < n; i++) {
      const idx = (this.preferred + i) % n;
      try {
        const q = await this.stream(this.o.endpoints[idx]!, '/v3/watch', body, signal);
        this.preferred = idx;
        return q;
      } catch (e) {
        if (e instanceof GatewayCallError && this.o.username && /auth token/i.test(e.message)) this.token = undefined; // renewed on the next open
        if (e instanceof GatewayCallError || e instanceof NoGatewayError) throw e;
        failures.push(`${this.o.endpoints[idx]}: ${(e as Error).message}`);
      }
    }
    throw new Error(failures.join('; '));
  }

  /** Resolves once the response headers are in (so a refused endpoint is an error here, not in the stream). */
  private stream(endpoint: string, path: string, body: unknown, signal: AbortSignal): Promise<AsyncQueue<GatewayWatchResponse>> {
    const payload = JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    if (this.token) headers.authorization = this.token;
    return new Promise((resolve, reject) => {
      const req = http.request(new URL(path, endpoint), { method: 'POST', headers, signal }, (res) => {
        clearTimeout(connectTimer);
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            reject(res.statusCode === 404 && !text.startsWith('{') ? new NoGatewayError(`${endpoint} serves no etcd v3 gateway at ${path}`) : new GatewayCallError(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode ?? 0));
          });
          return;
        }
        const q = new AsyncQueue<GatewayWatchResponse>(signal);
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const lines = (rest + chunk).split('\n');
          rest = lines.pop()!;
          for (const line of lines) {
            if (line.trim() === '') continue;
            try {
              const doc = JSON.parse(line) as { result?: GatewayWatchResponse; error?: { message?: string } };
              if (doc.error) q.close(new GatewayCallError(`watch: ${doc.error.message ?? JSON.stringify(doc.error)}`, 200));
              else if (doc.result) q.push(doc.result);
            } catch {
              q.close(new Error(`watch: unreadable line from ${endpoint}: ${line.slice(0, 200)}`));
            }
          }
        });
        res.on('end', () => q.close(new Error(`watch stream from ${endpoint} ended`)));
        res.on('error', (e) => q.close(e));
        res.on('close', () => q.close(new Error(`watch stream from ${endpoint} closed`)));
        resolve(q);
      });
      // Only the connection is bounded: the stream itself lasts as long as the watch.
      const connectTimer = setTimeout(() => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('socket', (s) => s.setKeepAlive(true, 30_000)); // a peer gone silently ends the stream
      req.on('error', (e) => {
        clearTimeout(connectTimer);
        reject(e);
      });
      req.end(payload);
    });
  }

  private async range(body: Record<string, unknown>): Promise<{ kvs: KvPair[]; revision: bigint; more: boolean }> {
    const res = await this.call('/v3/kv/range', body);
    const kvs = ((res.kvs ?? []) as RawKv[]).map(kvPairOf);
    return { kvs, revision: BigInt((res.header as { revision?: string } | undefined)?.revision ?? '0'), more: res.more === true };
  }

  /** One call on the first endpoint that answers; a refused or expired auth token is renewed once. */
  private async call(path: string, body: unknown): Promise<Record<string, unknown>> {
    if (this.o.username && this.token === undefined) await this.authenticate();
    try {
      return await this.onAnyEndpoint(path, body);
    } catch (e) {
      if (!this.o.username || !(e instanceof GatewayCallError) || !/auth token/i.test(e.message)) throw e;
      await this.authenticate();
      return this.onAnyEndpoint(path, body);
    }
  }

  private async authenticate(): Promise<void> {
    this.token = undefined;
    const res = await this.onAnyEndpoint('/v3/auth/authenticate', { name: this.o.username, password: this.o.password ?? '' });
    this.token = String(res.token ?? '');
  }

  private async onAnyEndpoint(path: string, body: unknown): Promise<Record<string, unknown>> {
    const n = this.o.endpoints.length;
    const failures: string[] = [];
    for (let i = 0; i < n; i++) {
      const idx = (this.preferred + i) % n;
      const endpoint = this.o.endpoints[idx]!;
      try {
        const res = await this.post(endpoint, path, body);
        this.preferred = idx;
        return res;
      } catch (e) {
        if (e instanceof GatewayCallError || e instanceof NoGatewayError) throw e;
        failures.push(`${endpoint}: ${(e as Error).message}`);
      }
    }
    throw new Error(failures.join('; '));
  }

  private post(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const payload = JSON.stringify(body);
    const url = new URL(path, endpoint);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    if (this.token && path !== '/v3/auth/authenticate') headers.authorization = this.token;
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let doc: Record<string, unknown>;
          try {
            // A streaming call (keepalive) answers one JSON object per line; the first is ours.
            doc = JSON.parse(text.split('\n', 1)[0]!) as Record<string, unknown>;
          } catch {
            if (res.statusCode === 404) reject(new NoGatewayError(`${endpoint} serves no etcd v3 gateway at ${path}`));
            else reject(new GatewayCallError(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode ?? 0));
            return;
          }
          const err = (doc.error ?? undefined) as { message?: string } | string | undefined;
          if (res.statusCode !== 200 || (err !== undefined && typeof err === 'object')) {
            const message = typeof err === 'object' ? err.message : (doc.message ?? err);
            reject(new GatewayCallError(String(message ?? `HTTP ${res.statusCode}`), res.statusCode ?? 0));
            return;
          }
          resolve(doc);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function putBody(key: string, value: string, lease?: string): Record<string, unknown> {
  return { key: b64(key), value: b64(value), ...(lease !== undefined && lease !== '0' && { lease }) };
}
