// Answers written straight onto an upgrade request's socket: the 101 that hands it to SPDY, or an
// error with a Status body, after which the socket is closed.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { failureStatus } from './status.js';

export function writeSwitchingProtocols(socket: Duplex, headers: Array<[string, string]>): void {
  const lines = ['HTTP/1.1 101 Switching Protocols', ...headers.map(([k, v]) => `${k}: ${v}`), `Date: ${new Date().toUTCString()}`];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
}

export function refuseUpgrade(socket: Duplex, code: number, message: string, headers: Array<[string, string]> = []): void {
  if (socket.destroyed) return;
  const body = `${JSON.stringify(failureStatus(code, message))}\n`;
  const lines = [
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...headers.map(([k, v]) => `${k}: ${v}`),
    `Date: ${new Date().toUTCString()}`,
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  // A client that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 5_000).unref();
}
