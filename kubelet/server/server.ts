// The kubelet's HTTPS server (--port, 10250): every request authenticated and authorized (auth.ts), then
// /healthz, /pods, /containerLogs (Docker's logs, streamed), /run (a command's output), and the streaming
// upgrades /exec, /attach and /portForward (the protocols are streaming/'s; Docker's side is exec.ts and
// port-forward.ts). Errors are plain text with the kubelet's status codes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { PassThrough, type Duplex } from 'node:stream';
import { errorMessage, type Logger } from '../../common/index.js';
import { serveExec, servePortForward, type ExecResult } from '../../streaming/index.js';
import type { DockerClient } from '../docker.js';
import { type Authenticated, forbiddenText, type KubeletAuth, type User } from './auth.js';
import { findPod, logContainer, LookupError, type PodSource, runningContainer } from './containers.js';
import { dockerAttach, dockerExec } from './exec.js';
import { ByteBudget, dockerLogsQuery, FrameDemuxer, LogQueryError, parseLogQuery } from './logs.js';
import { execCommand, nodeAttributes, type Route, routeOf, runCommand } from './paths.js';
import { dialInNetns } from './port-forward.js';

export interface KubeletServerOptions {
  readonly address: string;
  readonly port: number;
  readonly nodeName: string;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
  readonly auth: KubeletAuth;
  readonly pods: PodSource;
  readonly docker: DockerClient;
  /** /healthz: ok, or why not (the PLEG's health). */
  readonly health: () => { ok: boolean; message: string };
  readonly log: Logger;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error' };

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

/** An HTTP answer written on a connection that asked for an upgrade (it is not answered through a ServerResponse). */
function rawAnswer(socket: Duplex, status: number, text: string): void {
  const body = Buffer.from(text);
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${text}`);
}

const toHttpError = (e: unknown): HttpError =>
  e instanceof HttpError ? e : e instanceof LookupError ? new HttpError(e.status, e.message) : e instanceof LogQueryError ? new HttpError(400, e.message) : new HttpError(500, errorMessage(e));

export class KubeletServer {
  private readonly log: Logger;
  private srv: Server | undefined;

  constructor(private readonly o: KubeletServerOptions) {
    this.log = o.log.child({ component: 'kubelet-server' });
  }

  async listen(): Promise<number> {
    const t = this.o.tls;
    const srv = createServer({ cert: t.cert, key: t.key, ...(t.clientCa && { ca: t.clientCa, requestCert: true }), rejectUnauthorized: false }, (req, res) => void this.request(req, res));
    srv.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    srv.on('tlsClientError', (e) => this.log.debug({ err: errorMessage(e) }, 'TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.o.port, this.o.address, () => resolve());
    });
    this.srv = srv;
    const a = srv.address();
    const port = typeof a === 'object' && a ? a.port : this.o.port;
    this.log.info({ addr: `${this.o.address}:${port}`, authorization: this.o.auth.mode, clientCa: !!t.clientCa }, 'kubelet server listening');
    return port;
  }

  close(): void {
    this.srv?.closeAllConnections();
    this.srv?.close();
  }

  /** The request's user when it may do what it asks; else the status and text to refuse it with. */
  private async admit(req: IncomingMessage, path: string): Promise<{ user: User } | HttpError> {
    let who: Authenticated;
    try {
      who = await this.o.auth.authenticate(req);
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'token review failed');
      return new HttpError(401, 'Unauthorized');
    }
    if ('failure' in who) {
      this.log.info({ path, reason: who.failure, remote: req.socket.remoteAddress }, 'unauthorized request');
      return new HttpError(401, 'Unauthorized');
    }
    const attrs = nodeAttributes(req.method ?? 'GET', path, this.o.nodeName);
    try {
      const d = await this.o.auth.authorize(who.user, attrs);
      if (d.allowed) return { user: who.user };
      this.log.info({ user: who.user.name, verb: attrs.verb, subresources: attrs.subresources, reason: d.reason }, 'request forbidden');
      return new HttpError(403, forbiddenText(who.user, attrs));
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'access review failed');
      return new HttpError(500, `Authorization error (user=${who.user.name}, verb=${attrs.verb}, resource=${attrs.resource}, subresource(s)=[${attrs.subresources.join(' ')}])`);
    }
  }

  private async request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const got = await this.admit(req, url.pathname);
    if (got instanceof HttpError) return sendText(res, got.status, got.status === 401 ? 'Unauthorized' : got.message);
    const route = routeOf(url.pathname);
    try {
      if (!route) throw new HttpError(404, '404 page not found\n');
      await this.serve(route, req, res, url);
    } catch (e) {
      const err = toHttpError(e);
      if (err.status >= 500) this.log.warn({ path: url.pathname, err: err.message }, 'request failed');
      sendText(res, err.status, err.message);
    }
  }

  private async serve(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    switch (route.kind) {
      case 'healthz': {
        const h = this.o.health();
        return sendText(res, h.ok ? 200 : 500, h.ok ? 'ok' : `${h.message}\n`);
      }
      case 'pods': {
        const body = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.o.pods.pods() });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
        return;
      }
      case 'containerLogs':
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');
        return this.logs(route, req, res, url);
      case 'run': {
        if (method !== 'POST') throw new HttpError(405, 'method not allowed');
        const pod = findPod(this.o.pods, route);
        const c = runningContainer(pod, await this.o.pods.runningContainers(pod.metadata.uid ?? ''), route.container);
        const out = new PassThrough();
        const chunks: Buffer[] = [];
        out.on('data', (b: Buffer) => chunks.push(b));
        const r = await dockerExec(this.o.docker, c.id, runCommand(url.searchParams), { stdout: out, stderr: out }, { stdin: false, stdout: true, stderr: true, tty: false }, this.log);
        if ('error' in r) throw new HttpError(500, r.error);
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(Buffer.concat(chunks));
        return;
      }
      default:
        throw new HttpError(400, `${route.kind} needs a streaming upgrade (SPDY/3.1 or WebSocket)`);
    }
  }

  private async logs(route: Extract<Route, { kind: 'containerLogs' }>, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const opts = parseLogQuery(url.searchParams, Date.now());
    const pod = findPod(this.o.pods, route);
    const rec = logContainer(pod, await this.o.pods.getRuntimePod(pod.metadata.uid ?? ''), route.container, opts.previous);
    const tty = (await this.o.docker.inspectContainer(rec.id)).tty;
    const abort = new AbortController();
    const src = await this.o.docker.stream('container logs', `/containers/${encodeURIComponent(rec.id)}/logs`, dockerLogsQuery(opts), abort.signal);
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const demux = new FrameDemuxer();
    const budget = new ByteBudget(opts.limitBytes);
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        abort.abort();
        src.destroy();
        if (!res.writableEnded) res.end();
        resolve();
      };
      src.on('data', (chunk: Buffer) => {
        for (const data of tty ? [chunk] : demux.push(chunk).map((f) => f.data)) {
          const part = budget.take(data);
          if (part.data.length) res.write(part.data);
          if (part.done) return finish();
        }
      });
      src.once('end', finish);
      src.once('error', finish);
      // A follower that goes away stops the Docker stream.
      res.once('close', finish);
      req.once('aborted', finish);
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (e) => this.log.debug({ err: errorMessage(e) }, 'stream connection error'));
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const t0 = performance.now();
    const got = await this.admit(req, url.pathname);
    const t1 = performance.now();
    if (got instanceof HttpError) return rawAnswer(socket, got.status, got.status === 401 ? 'Unauthorized' : got.message);
    const route = routeOf(url.pathname);
    try {
      if (!route || (route.kind !== 'exec' && route.kind !== 'attach' && route.kind !== 'portForward')) throw new HttpError(404, '404 page not found\n');
      const pod = findPod(this.o.pods, route);
      if (route.kind === 'portForward') {
        const rt = await this.o.pods.getRuntimePod(pod.metadata.uid ?? '');
        const sandbox = rt?.sandboxes.find((s) => s.running);
        if (!sandbox) throw new HttpError(400, `pod ${JSON.stringify(pod.metadata.name)} has no running sandbox`);
        const pid = (await this.o.docker.inspectContainer(sandbox.id)).pid;
        if (!(pid > 0)) throw new HttpError(400, `pod ${JSON.stringify(pod.metadata.name)} has no running sandbox`);
        const name = `${pod.metadata.name}_${route.namespace}`;
        this.log.info({ pod: name }, 'port-forward');
        servePortForward(req, socket, head, (port) => dialInNetns(pid, port), { logger: this.log, podName: name, uid: pod.metadata.uid ?? '' });
        return;
      }
      const c = runningContainer(pod, await this.o.pods.runningContainers(pod.metadata.uid ?? ''), route.container);
      const cmd = execCommand(url.searchParams);
      const kind = route.kind;
      this.log.info({ pod: `${route.namespace}/${route.pod}`, container: route.container, kind, ...(kind === 'exec' && { cmd }), admitMs: Math.round((t1 - t0) * 10) / 10, lookupMs: Math.round((performance.now() - t1) * 10) / 10 }, kind);
      const tty = kind === 'attach' ? (await this.o.docker.inspectContainer(c.id)).tty : false;
      serveExec(req, socket, head, async (streams, opts): Promise<ExecResult> => {
        try {
          return kind === 'exec' ? await dockerExec(this.o.docker, c.id, cmd, streams, opts, this.log) : await dockerAttach(this.o.docker, c.id, tty, streams, opts, this.log);
        } catch (e) {
          return { error: errorMessage(e) };
        }
      }, { logger: this.log });
    } catch (e) {
      const err = toHttpError(e);
      if (err.status >= 500) this.log.warn({ path: url.pathname, err: err.message }, 'stream request failed');
      rawAnswer(socket, err.status, err.message);
    }
  }
}
