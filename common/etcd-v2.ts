// A read of one key from etcd's v2 store, over its HTTP API (the v3 gRPC client cannot see it). Used
// only to tell an operator that the config was written with `ETCDCTL_API=2 etcdctl set`, which
// flanneld (like flannel since 0.14) does not read: etcd 3.4 serves v2 only with --enable-v2, 3.6 not at all.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type * as Https from 'node:https';
import type { EtcdOptions } from './etcd.js';

export type V2Lookup = { readonly kind: 'found'; readonly value: string } | { readonly kind: 'missing' } | { readonly kind: 'unavailable'; readonly reason: string };

/** Looks `key` up in the v2 store of the first endpoint that answers. */
export async function readEtcdV2Key(o: EtcdOptions, key: string, timeoutMs = 2_000): Promise<V2Lookup> {
  let last: V2Lookup = { kind: 'unavailable', reason: 'no endpoints' };
  for (const endpoint of o.endpoints) {
    last = await readOne(o, endpoint, key, timeoutMs);
    if (last.kind !== 'unavailable') return last;
  }
  return last;
}

function readOne(o: EtcdOptions, endpoint: string, key: string, timeoutMs: number): Promise<V2Lookup> {
  let url: URL;
  try {
    url = new URL(`/v2/keys/${key.replace(/^\/+/, '')}`, endpoint);
  } catch {
    return Promise.resolve({ kind: 'unavailable', reason: `not a URL: ${endpoint}` });
  }
  const tls = url.protocol === 'https:';
  const options: Https.RequestOptions = {
    method: 'GET',
    timeout: timeoutMs,
    headers: o.username ? { authorization: `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}` } : {},
    ...(tls && {
      ...(o.cafile && { ca: readFileSync(o.cafile) }),
      ...(o.certfile && { cert: readFileSync(o.certfile) }),
      ...(o.keyfile && { key: readFileSync(o.keyfile) }),
    }),
  };
  return new Promise((resolve) => {
    // node:https (and tls) only when an endpoint is https: loading it is a tenth of a daemon's start.
    const req = (tls ? (createRequire(import.meta.url)('node:https') as typeof Https) : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1 << 20) chunks.push(c);
      });
      res.on('end', () => resolve(interpret(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      res.on('error', (e) => resolve({ kind: 'unavailable', reason: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ kind: 'unavailable', reason: e.message }));
    req.end();
  });
}

function interpret(status: number, body: string): V2Lookup {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    // etcd 3.4 without --enable-v2 answers "404 page not found" in plain text.
    return { kind: 'unavailable', reason: status === 404 ? 'the v2 API is not enabled' : `HTTP ${status}` };
  }
  const d = doc as { node?: { value?: unknown }; errorCode?: unknown };
  if (status === 200 && typeof d.node?.value === 'string') return { kind: 'found', value: d.node.value };
  if (d.errorCode === 100) return { kind: 'missing' };
  return { kind: 'unavailable', reason: `HTTP ${status}` };
}
