// port-forward: SPDY with portforward.k8s.io, plain or tunneled through a WebSocket (kubectl 1.31+).
// Each forwarded connection is a pair of client streams, data and error, tied by their requestID
// header; the data stream is spliced to a connection that dial() opens to the pod's port.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream } from 'ws';
import { silentLogger, type Logger } from '../common/index.js';
import {
  PORT_FORWARD_PROTOCOL, SPDY_TUNNEL_PREFIX, headerList, isSpdyUpgrade, isWebSocketRequest, negotiate, tunneledProtocols,
} from './negotiate.js';
import { refuseUpgrade } from './http-reply.js';
import { SpdySession, type SpdyStream } from './spdy-session.js';
import { spdyHandshake, type ServeOptions } from './exec.js';
import { upgradeWebSocket } from './ws-upgrade.js';
import { servePortForwardWebSocket } from './portforward-ws.js';

export type PortDialer = (port: number) => Promise<Duplex>;

export interface PortForwardOptions extends ServeOptions {
  /** Named in the error text sent to the client, as the kubelet names its pod. */
  podName?: string;
  uid?: string;
}

const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;

export function servePortForward(req: IncomingMessage, socket: Duplex, head: Buffer, dial: PortDialer, options: PortForwardOptions = {}): void {
  const log = options.logger ?? silentLogger;
  socket.on('error', (err: Error) => log.debug({ err: err.message }, 'port-forward connection error'));
  if (isWebSocketRequest(req.headers)) {
    const offered = headerList(req.headers, 'sec-websocket-protocol');
    const tunneled = tunneledProtocols(offered);
    if (!tunneled.length) {
      servePortForwardWebSocket(req, socket, head, dial, options, log);
      return;
    }
    const protocol = negotiate(tunneled, [PORT_FORWARD_PROTOCOL]);
    if (!protocol) {
      refuseUpgrade(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports [${tunneled.join(' ')}], server accepts [${PORT_FORWARD_PROTOCOL}]`);
      return;
    }
    upgradeWebSocket(req, socket, head, SPDY_TUNNEL_PREFIX + protocol, (ws) => {
      // Each write becomes one binary message and each message's bytes are read in order: SPDY's byte stream.
      const tunnel = createWebSocketStream(ws);
      portForwardSpdy(tunnel, dial, options, log);
    });
    return;
  }
  if (!isSpdyUpgrade(req.headers)) {
    refuseUpgrade(socket, 400, 'unable to upgrade: missing upgrade headers in request (want Upgrade: SPDY/3.1 or websocket)');
    return;
  }
  if (!spdyHandshake(req, socket, head, [PORT_FORWARD_PROTOCOL])) return;
  portForwardSpdy(socket, dial, options, log);
}

interface StreamPair { requestID: string; port: number; data?: SpdyStream; error?: SpdyStream; timer?: NodeJS.Timeout }

/** Checks a new stream's port and streamtype headers: the refusal reason, or the port. */
export function checkPortForwardStream(port: string | undefined, streamType: string | undefined): string | number {
  if (!port) return '"port" header is required';
  const n = /^[0-9]{1,5}$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(n) || n > 65535) return `unable to parse "${port}" as a port: invalid syntax`;
  if (n < 1) return `port "${port}" must be > 0`;
  if (!streamType) return '"streamType" header is required';
  if (streamType !== 'error' && streamType !== 'data') return `invalid stream type "${streamType}"`;
  return n;
}

function portForwardSpdy(transport: Duplex, dial: PortDialer, options: PortForwardOptions, log: Logger): void {
  const pairs = new Map<string, StreamPair>();
  const targets = new Set<Duplex>();
  const timeoutMs = options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS;

  const session = new SpdySession(transport, (stream) => {
    stream.on('error', (err: Error) => log.debug({ err: err.message, stream: stream.id }, 'port-forward stream error'));
    const type = stream.header('streamtype');
    const checked = checkPortForwardStream(stream.header('port'), type);
    if (typeof checked === 'string') return checked;
    // Clients before requestID paired streams by id: error n, data n+2.
    const requestID = stream.header('requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestID);
    if (!pair) {
      const created: StreamPair = { requestID, port: checked };
      created.timer = setTimeout(() => {
        pairs.delete(requestID);
        log.info({ requestID }, 'timed out waiting for port-forward streams');
        created.error?.end(`timed out waiting for streams of request ${requestID}`);
        created.data?.end();
      }, timeoutMs);
      pairs.set(requestID, created);
      pair = created;
    }
    const slot = type === 'error' ? 'error' : 'data';
    if (pair[slot]) {
      pair.error?.write(`error processing stream for request ${requestID}: ${slot} stream already assigned`);
      return undefined;
    }
    pair[slot] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestID);
      const complete = pair;
      queueMicrotask(() => void forward(complete));
    }
    return undefined;
  }, log);

  session.on('close', () => {
    for (const t of targets) t.destroy();
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });

  const describe = (port: number, err: Error): string =>
    `error forwarding port ${port} to pod ${options.podName ?? ''}, uid ${options.uid ?? ''}: ${err.message}`;

  async function forward(pair: StreamPair): Promise<void> {
    const data = pair.data!;
    const error = pair.error!;
    const port = pair.port;
    let target: Duplex;
    try {
      target = await dial(port);
    } catch (err) {
      log.info({ port, err: (err as Error).message }, 'port-forward dial failed');
      error.end(describe(port, err as Error));
      data.end();
      return;
    }
    if (session.isClosed || data.wasReset) {
      target.destroy();
      error.end();
      return;
    }
    targets.add(target);
    target.on('error', (err: Error) => {
      if (!data.wasReset) {
        log.info({ port, err: err.message }, 'port-forward connection error');
        error.write(describe(port, err));
      }
      target.destroy();
    });
    target.on('close', () => {
      targets.delete(target);
      if (!data.writableEnded) data.end();
      if (!error.writableEnded) error.end();
    });
    data.on('reset', () => target.destroy());
    // The client's FIN half-closes the pod connection; the pod's FIN half-closes the data stream.
    data.pipe(target);
    target.pipe(data);
  }
}
