// The WebSocket handshake for the streaming endpoints, through `ws`. The caller has chosen the
// subprotocol (or none) already; ws only has to echo it. ws would refuse the tunnel's
// "SPDY/3.1+portforward.k8s.io" outright ('/' is not a token character), so the offer is taken off
// the request before ws sees it and the choice added to the 101's headers here.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

const chosen = new WeakMap<IncomingMessage, string>();

let server: WebSocketServer | undefined;
function wss(): WebSocketServer {
  if (!server) {
    server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
    server.on('headers', (headers: string[], req: IncomingMessage) => {
      const protocol = chosen.get(req);
      if (protocol) headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
    });
  }
  return server;
}

/** Completes the handshake with `protocol` ('' for none); a malformed handshake gets ws's own 400. */
export function upgradeWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, then: (ws: WebSocket) => void): void {
  chosen.set(req, protocol);
  delete req.headers['sec-websocket-protocol'];
  wss().handleUpgrade(req, socket, head, (ws) => {
    ws.binaryType = 'nodebuffer';
    then(ws);
  });
}
