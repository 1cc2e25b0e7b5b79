// The apiserver's way to the kubelets, as kube-apiserver's pod and node "connect" subresources go: pods/log
// (a GET to the pod's kubelet's /containerLogs, its answer streamed back), pods/exec, pods/attach and
// pods/portforward (the HTTP upgrade forwarded to /exec, /attach, /portForward, then the bytes piped
// both ways untouched, so SPDY and WebSocket pass alike), and nodes/<name>/proxy/<path>. The kubelet is
// found from the Node: the first of its status.addresses by --kubelet-preferred-address-types, the port
// from status.daemonEndpoints.kubeletEndpoint.Port (10250 when unset). The apiserver presents
// --kubelet-client-certificate/--kubelet-client-key and verifies the kubelet with
// --kubelet-certificate-authority, or (without one) does not verify it, as kube-apiserver does (the TLS
// context and the resumed sessions are kubelet-tls.ts's). An upgrade's pod and Node are read from etcd, the
// Node beside the pod; the dial to the kubelet the watch cache last saw the pod on starts beside them too,
// and is used only when etcd's answer names that same kubelet.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { errorMessage, type Logger } from '../common/index.js';
import { ApiError, badRequest, internalError } from './errors.js';
import { KubeletTls } from './kubelet-tls.js';
import { SpareConnections } from './kubelet-spares.js';
import { isObj, type Obj, objAt, strOf } from './object.js';

export const DEFAULT_KUBELET_PORT = 10250;
/**
 * kubeadm's order rather than kube-apiserver's built-in one (Hostname first): this project's kubelets report
 * their node name as Hostname, which the apiserver's host cannot always resolve, and their --node-ip as InternalIP.
 */
export const DEFAULT_PREFERRED_ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname'] as const;
const ADDRESS_TYPES = new Set(['Hostname', 'InternalDNS', 'InternalIP', 'ExternalDNS', 'ExternalIP']);

export type ConnectKind = 'exec' | 'attach' | 'portforward';
const KUBELET_PATH: Readonly<Record<ConnectKind, string>> = { exec: 'exec', attach: 'attach', portforward: 'portForward' };

/** --kubelet-preferred-address-types: known types, comma-separated. Throws naming an unknown one. */
export function parseAddressTypes(v: string): string[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of out) if (!ADDRESS_TYPES.has(t)) throw new RangeError(`unknown address type ${JSON.stringify(t)}: expected ${[...ADDRESS_TYPES].join(', ')}`);
  if (out.length === 0) throw new RangeError('at least one address type is needed');
  return out;
}

/** Where a Node's kubelet listens. Pure; a 400-style ApiError when no address of a preferred type is reported. */
export function kubeletAddress(node: Obj, types: readonly string[], defaultPort = DEFAULT_KUBELET_PORT): { host: string; port: number } {
  const status = objAt(node, 'status');
  const addrs = (Array.isArray(status.addresses) ? status.addresses : []).filter(isObj).map((a) => ({ type: strOf(a.type) ?? '', address: strOf(a.address) ?? '' }));
  let host: string | undefined;
  for (const t of types) {
    host = addrs.find((a) => a.type === t && a.address)?.address;
    if (host) break;
  }
  if (!host) throw badRequest(`no preferred addresses found; known addresses: [${addrs.map((a) => `{${a.type} ${a.address}}`).join(' ')}]`);
  const p = objAt(status, 'daemonEndpoints', 'kubeletEndpoint').Port;
  const port = typeof p === 'number' && p > 0 && p < 65536 ? p : defaultPort;
  return { host, port };
}

const names = (list: unknown): string[] => (Array.isArray(list) ? list.filter(isObj).map((c) => strOf(c.name) ?? '') : []);

/**
 * The container a pods/log, exec or attach request is about: the one named, else the pod's only container,
 * else the kubectl.kubernetes.io/default-container annotation's; kube-apiserver's 400s otherwise. Pure.
 */
export function containerOf(pod: Obj, requested: string | null): string {
  const name = strOf(objAt(pod, 'metadata').name) ?? '';
  const spec = objAt(pod, 'spec');
  const containers = names(spec.containers);
  const inits = names(spec.initContainers);
  if (requested) {
    if (!containers.includes(requested) && !inits.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
    return requested;
  }
  if (containers.length === 1) return containers[0]!;
  const annotated = strOf(objAt(objAt(pod, 'metadata'), 'annotations')['kubectl.kubernetes.io/default-container']);
  if (annotated && containers.includes(annotated)) return annotated;
  const more = inits.length ? ` or one of the init containers: [${inits.join(' ')}]` : '';
  throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]${more}`);
}

/** A pod's spec.nodeName, if it has one (and is a pod at all). Pure. */
export const specNodeName = (pod: Obj | undefined): string | undefined => (pod ? strOf(objAt(pod, 'spec').nodeName) || undefined : undefined);

/** The node a pod runs on (spec.nodeName); a 400 when it has none yet. Pure. */
export function nodeOf(pod: Obj): string {
  const node = strOf(objAt(pod, 'spec').nodeName);
  if (!node) throw badRequest(`pod ${strOf(objAt(pod, 'metadata').name) ?? ''} does not have a host assigned`);
  return node;
}

const LOG_PARAMS = ['follow', 'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'tailLines', 'limitBytes'] as const;

/** The kubelet's /containerLogs query from a pods/log query: its PodLogOptions only. Pure. */
export function kubeletLogQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const k of LOG_PARAMS) {
    const v = q.get(k);
    if (v !== null && v !== '') out.set(k, v);
  }
  return out;
}

const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

/**
 * The kubelet path of a connect request with its query, as kube-apiserver writes it: for exec and attach the
 * `command` arguments and the streams under the kubelet's names (`input`, `output`, `error`, `tty`, each `1`
 * when asked); for portforward the `ports` given. Pure.
 */
export function kubeletConnectPath(kind: ConnectKind, ns: string, pod: string, container: string | undefined, q: URLSearchParams): string {
  const query = new URLSearchParams();
  if (kind === 'portforward') for (const p of q.getAll('ports')) query.append('port', p);
  else {
    for (const c of q.getAll('command')) query.append('command', c);
    for (const [api, kubelet] of [['stdin', 'input'], ['stdout', 'output'], ['stderr', 'error'], ['tty', 'tty']] as const) if (TRUE.has(q.get(api) ?? '')) query.set(kubelet, '1');
  }
  const qs = query.toString();
  const parts = [KUBELET_PATH[kind], ns, pod, ...(container === undefined ? [] : [container])].map(encodeURIComponent).join('/');
  return `/${parts}${qs ? `?${qs}` : ''}`;
}

/** Headers not forwarded to the kubelet: the client's credentials and the hop's own. */
const DROPPED = (h: string): boolean => h === 'authorization' || h === 'host' || h.startsWith('impersonate-');

/**
 * A pod and its node's kubelet, both read from etcd as kube-apiserver reads them. The Node the watch cache
 * last saw the pod on is read beside the pod (one etcd round trip instead of two in turn); when the pod's
 * spec.nodeName turns out to be another, that other Node is read after it.
 */
export async function podKubelet(d: Pick<KubeletProxyDeps, 'getPod' | 'getNode' | 'nodeNameHint'>, types: readonly string[], ns: string, name: string): Promise<{ pod: Obj; target: { host: string; port: number } }> {
  const hint = d.nodeNameHint?.(ns, name);
  const early = hint ? d.getNode(hint).then((n) => n, () => undefined) : undefined;
  const pod = await d.getPod(ns, name);
  const nodeName = nodeOf(pod);
  const node = (hint === nodeName ? await early : undefined) ?? (await d.getNode(nodeName));
  return { pod, target: kubeletAddress(node, types) };
}

export interface KubeletClientConfig {
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly ca?: Buffer;
  readonly preferredAddressTypes: readonly string[];
  readonly timeoutMs: number;
}

export interface KubeletProxyDeps {
  getPod(ns: string, name: string): Promise<Obj>;
  getNode(name: string): Promise<Obj>;
  /** The pod's node as the watch cache last saw it, if it has: only to read that Node beside the pod. */
  nodeNameHint?(ns: string, name: string): string | undefined;
  /** The Node as the watch cache last saw it, if it has: only to start a dial that etcd's answer confirms. */
  cachedNode?(name: string): Obj | undefined;
  /** The pod as the watch cache last saw it, if it has: only to write a request that etcd's answer confirms. */
  cachedPod?(ns: string, name: string): Obj | undefined;
  readonly log: Logger;
}

function statusJson(e: ApiError): string {
  return JSON.stringify(e.toStatus());
}

/** A kubelet's non-2xx answer as kube-apiserver's response checker turns it into a Status. */
function kubeletError(status: number, body: string, resource: string, name: string): ApiError {
  const text = body.trim();
  if (status === 400) return badRequest(text);
  if (status === 500) return internalError(text);
  if (status === 404) return new ApiError(404, 'NotFound', `the server could not find the requested resource ( ${resource} ${name})${text ? `: ${text}` : ''}`, { name, kind: resource });
  if (status === 401) return new ApiError(401, 'Unauthorized', `the kubelet refused the apiserver's credentials (${resource} ${name}): ${text}`);
  if (status === 403) return new ApiError(403, 'Forbidden', `the kubelet refused the apiserver (${resource} ${name}): ${text}`);
  return new ApiError(status >= 400 && status < 600 ? status : 500, 'InternalError', `the server responded with the status code ${status} but did not return more information (${resource} ${name}): ${text}`);
}

export class KubeletProxy {
  private readonly t: KubeletTls;
  private readonly spares = new SpareConnections<TLSSocket>();
  private readonly refilling = new Set<string>();

  constructor(
    private readonly c: KubeletClientConfig,
    private readonly d: KubeletProxyDeps,
  ) {
    this.t = new KubeletTls(c);
  }

  private async nodeTarget(nodeName: string): Promise<{ host: string; port: number }> {
    return kubeletAddress(await this.d.getNode(nodeName), this.c.preferredAddressTypes);
  }

  private podTarget(ns: string, name: string): Promise<{ pod: Obj; target: { host: string; port: number } }> {
    return podKubelet(this.d, this.c.preferredAddressTypes, ns, name);
  }

  /** GET pods/<name>/log: the kubelet's answer streamed through; returns the status sent. */
  async podLog(ns: string, name: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const { pod, target } = await this.podTarget(ns, name);
    const container = containerOf(pod, q.get('container'));
    const qs = kubeletLogQuery(q).toString();
    const path = `/containerLogs/${[ns, name, container].map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
    const up = await this.get(target, path, 'pods/log', name);
    res.writeHead(200, { 'Content-Type': up.headers['content-type'] ?? 'text/plain', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        up.destroy();
        if (!res.writableEnded) res.end();
        resolve();
      };
      up.pipe(res, { end: false });
      up.once('end', done);
      up.once('error', done);
      res.once('close', done);
      req.once('aborted', done);
    });
    return 200;
  }

  /** nodes/<name>/proxy/<rest>: the request passed to the kubelet's <rest>, its answer streamed back. */
  async nodeProxy(nodeName: string, rest: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const target = await this.nodeTarget(nodeName);
    const qs = q.toString();
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headersDistinct)) if (v && !DROPPED(k)) headers[k] = v;
    const up = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest({ host: target.host, port: target.port, method: req.method, path: `${rest || '/'}${qs ? `?${qs}` : ''}`, headers, ...this.t.options(target.host, target.port), agent: false, timeout: this.c.timeoutMs }, resolve);
      r.once('socket', (s) => this.t.track(s, target.host, target.port));
      r.on('timeout', () => r.destroy(new Error(`no answer from the kubelet at ${target.host}:${target.port} in ${this.c.timeoutMs} ms`)));
      r.on('error', (e) => reject(internalError(`error trying to reach the kubelet at ${target.host}:${target.port}: ${errorMessage(e)}`)));
      req.pipe(r);
    });
    const status = up.statusCode ?? 502;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headersDistinct)) if (v && k !== 'connection' && k !== 'transfer-encoding') out[k] = v;
    res.writeHead(status, out);
    up.pipe(res);
    await new Promise<void>((resolve) => {
      res.once('close', () => {
        up.destroy();
        resolve();
      });
    });
    return status;
  }

  private get(target: { host: string; port: number }, path: string, resource: string, name: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const r = httpsRequest({ host: target.host, port: target.port, method: 'GET', path, ...this.t.options(target.host, target.port), agent: false }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 64 * 1024) chunks.push(c);
        });
        res.once('end', () => reject(kubeletError(status, Buffer.concat(chunks).toString('utf8'), resource, name)));
        res.once('error', (e) => reject(internalError(errorMessage(e))));
      });
      r.once('socket', (s) => this.t.track(s, target.host, target.port));
      const timer = setTimeout(() => r.destroy(new Error(`no answer in ${this.c.timeoutMs} ms`)), this.c.timeoutMs);
      r.once('response', () => clearTimeout(timer));
      r.on('error', (e) => {
        clearTimeout(timer);
        reject(internalError(`error trying to reach the kubelet at ${target.host}:${target.port}: ${errorMessage(e)}`));
      });
      r.end();
    });
  }

  /**
   * An upgrade request for pods/<name>/exec|attach|portforward (or a node proxy path): the request line and
   * headers written to the kubelet over TLS, then both connections piped. The kubelet's answer (101 and its
   * protocol, or an error) reaches the client as the kubelet wrote it. A failure before that is answered here.
   *
   * When the watch cache has the pod and its Node, the request it implies is written to that kubelet as soon as
   * the connection is up, beside the etcd reads: the kubelet looks the container up and answers meanwhile, and
   * its answer is held, unread, until etcd's pod names the same kubelet and container (the same request, byte for
   * byte). Otherwise that connection is closed with its answer unread: the kubelet has upgraded it at most, and an
   * exec, attach or port-forward does nothing until the client opens its streams, which never reach it.
   */
  async connect(kind: ConnectKind, ns: string, name: string, q: URLSearchParams, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const t0 = performance.now();
    const guess = this.kubeletGuess(kind, ns, name, q);
    const early = guess ? this.open(guess.target).then((up) => {
      if (guess.path !== undefined && !up.destroyed) up.write(requestHead(req, guess.target, guess.path));
      return up;
    }, () => undefined) : undefined;
    let pod: Obj;
    let target: { host: string; port: number };
    let container: string | undefined;
    try {
      ({ pod, target } = await this.podTarget(ns, name));
      container = kind === 'portforward' ? undefined : containerOf(pod, q.get('container'));
    } catch (e) {
      void early?.then((s) => s?.destroy());
      throw e;
    }
    const t1 = performance.now();
    const path = kubeletConnectPath(kind, ns, name, container, q);
    const same = guess !== undefined && guess.target.host === target.host && guess.target.port === target.port;
    // A request already written is usable only when it is the one etcd's pod makes.
    const usable = same && (guess.path === undefined || guess.path === path);
    if (early && !usable) void early.then((s) => s?.destroy());
    let up = usable ? await early : undefined;
    const speculative = up !== undefined && !up.destroyed;
    const sent = speculative && guess?.path !== undefined;
    if (!up || up.destroyed) up = await this.open(target);
    const resumed = this.splice(up, target, sent ? undefined : path, req, socket, head);
    const ms = { lookupMs: Math.round((t1 - t0) * 10) / 10, dialMs: Math.round((performance.now() - t1) * 10) / 10 };
    this.d.log.info({ kind, namespace: ns, pod: name, container, node: strOf(objAt(pod, 'spec').nodeName), kubelet: `${target.host}:${target.port}`, ...ms, resumed, speculative, sent }, 'stream proxied to the kubelet');
  }

  /** An upgrade of nodes/<name>/proxy/<rest>. */
  async connectNode(nodeName: string, rest: string, q: URLSearchParams, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const qs = q.toString();
    await this.tunnel(await this.nodeTarget(nodeName), `${rest || '/'}${qs ? `?${qs}` : ''}`, req, socket, head);
  }

  /** A TLS connection to a kubelet, connected; a 500 "error dialing backend" when it cannot be. */
  private dial(target: { host: string; port: number }): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const up = tlsConnect({ host: target.host, port: target.port, ...this.t.options(target.host, target.port) });
      this.t.track(up, target.host, target.port);
      // Streams are small frames each way (SPDY's SYN_STREAM/SYN_REPLY in turn): Nagle's wait for the peer's
      // delayed ACK would add ~40 ms to each round; Go's connections, kube-apiserver's among them, set TCP_NODELAY.
      up.setNoDelay(true);
      const timer = setTimeout(() => up.destroy(new Error(`no connection in ${this.c.timeoutMs} ms`)), this.c.timeoutMs);
      const failed = (e: Error): void => {
        clearTimeout(timer);
        reject(internalError(`error dialing backend: ${errorMessage(e)}`));
      };
      up.once('error', failed);
      up.once('secureConnect', () => {
        clearTimeout(timer);
        up.off('error', failed);
        // Until it is spliced (a speculative dial may never be), an error only ends it.
        up.on('error', () => up.destroy());
        resolve(up);
      });
    });
  }

  /**
   * The request line and headers written to the kubelet (unless path is undefined: they were, speculatively),
   * then both connections piped; whether TLS resumed. A spare connection to the kubelet is dialled once they close.
   */
  private splice(up: TLSSocket, target: { host: string; port: number }, path: string | undefined, req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    noDelay(socket);
    const lines = path === undefined ? undefined : requestHead(req, target, path);
    if (lines !== undefined || head.length) up.write(head.length ? Buffer.concat([Buffer.from(lines ?? ''), head]) : lines!);
    // A kubelet that says nothing (its host gone while a spare waited, a hung server) is given up on after the
    // kubelet timeout, as a dial to it would be; the client gets a Status, since nothing reached it yet.
    let gaveUp = false;
    const silent = setTimeout(() => {
      gaveUp = true;
      socket.unpipe(up);
      up.unpipe(socket);
      answerOnSocket(socket, internalError(`error dialing backend: no answer from the kubelet at ${target.host}:${target.port} in ${this.c.timeoutMs} ms`));
      up.destroy();
    }, this.c.timeoutMs);
    up.once('data', () => clearTimeout(silent));
    up.once('close', () => clearTimeout(silent));
    up.pipe(socket);
    socket.pipe(up);
    let closed = false;
    const close = (): void => {
      up.destroy();
      // Given up on, the client's connection ends once the Status is written.
      if (!gaveUp) socket.destroy();
      if (closed) return;
      closed = true;
      this.refill(target);
    };
    up.once('close', close);
    socket.once('close', close);
    up.once('error', () => socket.destroy());
    socket.once('error', () => up.destroy());
    return up.isSessionReused();
  }

  /** A spare connection to target if one is held, else a new dial. */
  private async open(target: { host: string; port: number }): Promise<TLSSocket> {
    return this.spares.take(`${target.host}:${target.port}`) ?? this.dial(target);
  }

  /** A spare connection to target dialled in the background, unless one is held or on its way. */
  private refill(target: { host: string; port: number }): void {
    const key = `${target.host}:${target.port}`;
    if (this.spares.has(key) || this.refilling.has(key)) return;
    this.refilling.add(key);
    this.dial(target).then(
      (s) => this.spares.offer(key, s),
      (e: unknown) => this.d.log.debug({ kubelet: key, err: errorMessage(e) }, 'no spare connection to the kubelet'),
    ).finally(() => this.refilling.delete(key));
  }

  /** Closes the spare connections (the apiserver is stopping). */
  close(): void {
    this.spares.close();
  }

  private async tunnel(target: { host: string; port: number }, path: string, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean> {
    return this.splice(await this.open(target), target, path, req, socket, head);
  }

  /**
   * Where the watch cache last saw the pod's kubelet (its pod's node, that Node's address), if it has seen
   * both, and the kubelet path the cached pod makes (when it has the pod itself and names a container): a
   * connection there starts beside the etcd reads, with that request written on it, and is used only when
   * etcd's pod makes the same request of the same kubelet.
   */
  private kubeletGuess(kind: ConnectKind, ns: string, name: string, q: URLSearchParams): { target: { host: string; port: number }; path?: string } | undefined {
    const nodeName = this.d.nodeNameHint?.(ns, name);
    const node = nodeName ? this.d.cachedNode?.(nodeName) : undefined;
    if (!node) return undefined;
    let target: { host: string; port: number };
    try {
      target = kubeletAddress(node, this.c.preferredAddressTypes);
    } catch {
      return undefined;
    }
    const pod = this.d.cachedPod?.(ns, name);
    if (!pod || specNodeName(pod) !== nodeName) return { target };
    try {
      return { target, path: kubeletConnectPath(kind, ns, name, kind === 'portforward' ? undefined : containerOf(pod, q.get('container')), q) };
    } catch {
      return { target };
    }
  }
}

/** The HTTP request line and headers for the kubelet: the client's, less its credentials and this hop's. */
function requestHead(req: IncomingMessage, target: { host: string; port: number }, path: string): string {
  const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`, `Host: ${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!;
    if (!DROPPED(k.toLowerCase())) lines.push(`${k}: ${req.rawHeaders[i + 1]!}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** TCP_NODELAY on a connection when it is a socket (a TLS or TCP one). */
function noDelay(d: Duplex): void {
  const s = d as Duplex & { setNoDelay?: (on: boolean) => unknown };
  if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
}

/** An ApiError answered on a connection that asked for an upgrade (no ServerResponse there). */
export function answerOnSocket(socket: Duplex, e: ApiError): void {
  const body = statusJson(e);
  const text = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error' }[e.httpStatus] ?? 'Error';
  socket.end(`HTTP/1.1 ${e.httpStatus} ${text}\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The kubelet path of /api/v1/nodes/<name>/proxy/<rest>: `/<rest>` (`/` when none). Pure. */
export function nodeProxyRest(pathname: string): string {
  const m = /^\/api\/v1\/nodes\/[^/]+\/proxy(\/.*)?$/.exec(pathname);
  return m?.[1] ?? '/';
}
