// exec and attach: the upgrade (SPDY or WebSocket), the client's streams, then the caller's run() and
// the result on the error stream, as the kubelet's remotecommand server does.
import type { IncomingMessage } from 'node:http';
import { EventEmitter, once } from 'node:events';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import { silentLogger, type Logger } from '../common/index.js';
import {
  EXEC_V3, EXEC_V4, EXEC_V5, SPDY_EXEC_PROTOCOLS, WS_EXEC_PROTOCOLS, headerList, isSpdyUpgrade, isWebSocketRequest,
  negotiate, parseStreamOptions, type StreamOptions,
} from './negotiate.js';
import { refuseUpgrade, writeSwitchingProtocols } from './http-reply.js';
import { SpdySession, type SpdyStream } from './spdy-session.js';
import { errorStreamPayload, type ExecResult } from './status.js';
import { Channel, ResizeDecoder, decodeChannelMessage, encodeChannelMessage } from './channels.js';
import { upgradeWebSocket } from './ws-upgrade.js';

export interface ExecStreams {
  /** client → process; ends when the client closes stdin. */
  stdin?: Readable;
  stdout?: Writable;
  /** Absent with a TTY (its output is all on stdout). */
  stderr?: Writable;
  /** With a TTY: emits 'size' (TerminalSize) for each resize the client sends. */
  resize?: EventEmitter;
  /** Aborted when the client's connection goes away before run() has finished. */
  signal?: AbortSignal;
}

/**
 * Runs the command. It resolves once the process has exited and its output has been written (a
 * child's 'close'); serveExec then ends stdout and stderr if run() did not, and writes the result.
 */
export type ExecRunner = (streams: ExecStreams, opts: StreamOptions) => Promise<ExecResult>;

export interface ServeOptions {
  logger?: Logger;
  /** How long the client has to open its streams after the upgrade (the kubelet's default: 30 s). */
  streamCreationTimeoutMs?: number;
}

const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;
/** The longest serveExec waits for a stream's last bytes to be written out before it moves on. */
const FLUSH_TIMEOUT_MS = 10_000;

export function serveExec(req: IncomingMessage, socket: Duplex, head: Buffer, run: ExecRunner, options: ServeOptions = {}): void {
  const log = options.logger ?? silentLogger;
  socket.on('error', (err: Error) => log.debug({ err: err.message }, 'exec connection error'));
  let opts: StreamOptions;
  try {
    opts = parseStreamOptions(new URL(req.url ?? '/', 'http://localhost'));
  } catch (err) {
    refuseUpgrade(socket, 400, (err as Error).message);
    return;
  }
  if (isWebSocketRequest(req.headers)) execWebSocket(req, socket, head, run, opts, log);
  else if (isSpdyUpgrade(req.headers)) execSpdy(req, socket, head, run, opts, log, options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS);
  else refuseUpgrade(socket, 400, 'unable to upgrade: missing upgrade headers in request (want Upgrade: SPDY/3.1 or websocket)');
}

/** Negotiates the SPDY protocol version of an upgrade, or answers the refusal itself and returns undefined. */
export function spdyHandshake(req: IncomingMessage, socket: Duplex, head: Buffer, server: string[]): string | undefined {
  const client = headerList(req.headers, 'x-stream-protocol-version');
  if (!client.length) {
    refuseUpgrade(socket, 400, 'unable to upgrade: X-Stream-Protocol-Version is required');
    return undefined;
  }
  const protocol = negotiate(client, server);
  if (!protocol) {
    refuseUpgrade(
      socket, 403,
      `unable to upgrade: unable to negotiate protocol: client supports [${client.join(' ')}], server accepts [${server.join(' ')}]`,
      server.map((p) => ['X-Accepted-Stream-Protocol-Versions', p]),
    );
    return undefined;
  }
  writeSwitchingProtocols(socket, [['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1'], ['X-Stream-Protocol-Version', protocol]]);
  if (head.length) socket.unshift(head);
  return protocol;
}

function execSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, run: ExecRunner, opts: StreamOptions, log: Logger, timeoutMs: number): void {
  const protocol = spdyHandshake(req, socket, head, SPDY_EXEC_PROTOCOLS);
  if (!protocol) return;
  const jsonStatus = protocol === EXEC_V5 || protocol === EXEC_V4;
  const resizable = jsonStatus || protocol === EXEC_V3;
  const wanted = new Set(['error']);
  if (opts.stdin) wanted.add('stdin');
  if (opts.stdout) wanted.add('stdout');
  if (opts.stderr) wanted.add('stderr');
  if (opts.tty && resizable) wanted.add('resize');

  const got = new Map<string, SpdyStream>();
  const abort = new AbortController();
  let started = false;
  const session = new SpdySession(socket, (stream) => {
    stream.on('error', (err: Error) => log.debug({ err: err.message, stream: stream.id }, 'exec stream error'));
    const type = stream.header('streamtype') ?? '';
    if (started) return `stream ${type} opened after the streams were complete`;
    if (got.has(type)) return `a second ${type} stream`;
    if (!wanted.has(type)) {
      log.info({ type }, 'unexpected stream type');
      return undefined;
    }
    got.set(type, stream);
    if (got.size === wanted.size) {
      started = true;
      clearTimeout(timer);
      // After this SYN_REPLY is written: the handler returns, the session replies, then this runs.
      queueMicrotask(() => start());
    }
    return undefined;
  }, log);
  const timer = setTimeout(() => {
    log.info({ want: [...wanted], got: [...got.keys()] }, 'timed out waiting for client to create streams');
    session.close();
  }, timeoutMs);
  session.on('close', () => {
    clearTimeout(timer);
    abort.abort();
  });

  const start = (): void => {
    const streams: ExecStreams = { signal: abort.signal };
    if (opts.stdin) streams.stdin = got.get('stdin');
    if (opts.stdout) streams.stdout = got.get('stdout');
    if (opts.stderr) streams.stderr = got.get('stderr');
    const resize = got.get('resize');
    if (resize) streams.resize = resizeEvents(resize);
    const errorStream = got.get('error')!;
    void complete(run, streams, opts, log, async (result) => {
      errorStream.end(errorStreamPayload(result, jsonStatus));
      await flushed(errorStream);
      session.close();
    });
  };
}

function resizeEvents(source: Readable): EventEmitter {
  const events = new EventEmitter();
  const decoder = new ResizeDecoder();
  source.on('data', (chunk: Buffer) => {
    for (const size of decoder.push(chunk)) events.emit('size', size);
  });
  return events;
}

async function complete(run: ExecRunner, streams: ExecStreams, opts: StreamOptions, log: Logger, report: (r: ExecResult) => Promise<void>): Promise<void> {
  let result: ExecResult;
  try {
    result = await run(streams, opts);
  } catch (err) {
    result = { error: (err as Error).message };
  }
  log.debug({ result }, 'exec finished');
  for (const w of [streams.stdout, streams.stderr]) if (w && !w.writableEnded && !w.destroyed) w.end();
  await Promise.all([flushed(streams.stdout), flushed(streams.stderr)]);
  try {
    await report(result);
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not write the exec result');
  }
}

/** Resolves once w has written everything (or is gone), at most FLUSH_TIMEOUT_MS later. */
async function flushed(w: Writable | undefined): Promise<void> {
  if (!w || w.writableFinished || w.destroyed) return;
  const timeout = new AbortController();
  const t = setTimeout(() => timeout.abort(), FLUSH_TIMEOUT_MS);
  try {
    await Promise.race([once(w, 'finish', { signal: timeout.signal }), once(w, 'close', { signal: timeout.signal })]);
  } catch {
    // timed out, or the stream failed: nothing more can be written to it anyway
  } finally {
    clearTimeout(t);
    timeout.abort();
  }
}

function execWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, run: ExecRunner, opts: StreamOptions, log: Logger): void {
  const offered = headerList(req.headers, 'sec-websocket-protocol');
  const protocol = offered.length ? negotiate(offered, WS_EXEC_PROTOCOLS) : '';
  if (protocol === undefined) {
    refuseUpgrade(socket, 403, `unable to upgrade: requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${WS_EXEC_PROTOCOLS.join(' ')}]`);
    return;
  }
  upgradeWebSocket(req, socket, head, protocol, (ws) => execOverWebSocket(ws, protocol, run, opts, log));
}

function execOverWebSocket(ws: WebSocket, protocol: string, run: ExecRunner, opts: StreamOptions, log: Logger): void {
  const base64 = protocol.includes('base64');
  const v5 = protocol === EXEC_V5;
  const jsonStatus = v5 || protocol.startsWith('v4.');
  const abort = new AbortController();
  ws.on('error', (err: Error) => log.debug({ err: err.message }, 'exec websocket error'));

  const send = (channel: number, data: Buffer, cb: (err?: Error | null) => void): void => {
    if (ws.readyState !== ws.OPEN) {
      cb();
      return;
    }
    ws.send(encodeChannelMessage(channel, data, base64), { binary: !base64 }, () => cb());
  };
  const output = (channel: number): Writable => new Writable({ write: (chunk: Buffer, _enc, cb) => send(channel, chunk, cb) });

  const streams: ExecStreams = { signal: abort.signal };
  const stdin = opts.stdin ? new PassThrough() : undefined;
  if (stdin) streams.stdin = stdin;
  if (opts.stdout) streams.stdout = output(Channel.STDOUT);
  if (opts.stderr) streams.stderr = output(Channel.STDERR);
  const resizeDecoder = new ResizeDecoder();
  if (opts.tty) streams.resize = new EventEmitter();

  ws.on('message', (data: Buffer) => {
    const msg = decodeChannelMessage(data, base64, v5);
    if (!msg) return;
    if ('invalid' in msg) {
      log.info({ reason: msg.invalid }, 'bad exec websocket message');
      return;
    }
    if ('close' in msg) {
      if (msg.close === Channel.STDIN) stdin?.end();
      return;
    }
    if (msg.channel === Channel.STDIN && stdin && !stdin.writableEnded) {
      if (!stdin.write(msg.data)) {
        ws.pause();
        stdin.once('drain', () => ws.resume());
      }
    } else if (msg.channel === Channel.RESIZE && streams.resize) {
      for (const size of resizeDecoder.push(msg.data)) streams.resize.emit('size', size);
    }
  });
  ws.on('close', () => {
    if (stdin && !stdin.writableEnded) stdin.end();
    abort.abort();
  });

  // Older clients wait for a first message before they count the connection as open (the kubelet
  // sends an empty one on the lowest writable channel); v5 clients do not need it.
  if (!v5) {
    const first = opts.stdout ? Channel.STDOUT : opts.stderr ? Channel.STDERR : Channel.ERROR;
    send(first, Buffer.alloc(0), () => undefined);
  }

  void complete(run, streams, opts, log, async (result) => {
    const payload = errorStreamPayload(result, jsonStatus);
    if (payload.length) await new Promise<void>((resolve) => send(Channel.ERROR, payload, () => resolve()));
    ws.close(1000);
  });
}
