// The WebSocket handshake for the streaming endpoints, through `ws`: the caller has already chosen
// the subprotocol (or none), so the server only echoes it.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

const chosen = new WeakMap<IncomingMessage, string>();

let server: WebSocketServer | undefined;
function wss(): WebSocketServer {
  server ??= new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    handleProtocols: (_offered, req: IncomingMessage) => chosen.get(req) || false,
  });
  return server;
}

/** Completes the handshake with `protocol` ('' for none); a malformed handshake gets ws's own 400. */
export function upgradeWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, then: (ws: WebSocket) => void): void {
  chosen.set(req, protocol);
  wss().handleUpgrade(req, socket, head, (ws) => {
    ws.binaryType = 'nodebuffer';
    then(ws);
  });
}
