// The server side of kubectl's streaming protocols for exec, attach and port-forward (SPDY/3.1 and
// WebSocket), independent of the container runtime and of the kubelet.
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { EventEmitter } from 'node:events';

export interface StreamOptions { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }
export interface TerminalSize { width: number; height: number }
export interface ExecStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: EventEmitter;
}
export type ExecResult = { exitCode: number } | { error: string };

export function parseStreamOptions(_url: URL): StreamOptions {
  throw new Error('not implemented');
}

export function serveExec(
  _req: IncomingMessage, _socket: Duplex, _head: Buffer,
  _run: (streams: ExecStreams, opts: StreamOptions) => Promise<ExecResult>,
): void {
  throw new Error('not implemented');
}

export function servePortForward(
  _req: IncomingMessage, _socket: Duplex, _head: Buffer,
  _dial: (port: number) => Promise<Duplex>,
): void {
  throw new Error('not implemented');
}
