// The kubelet's WebSocket port-forward, older than the SPDY tunnel: the ports come from ?port=, and
// port i gets channel 2i for data and 2i+1 for errors, each opened with the port as two bytes
// (little-endian). The connection closes once every port's forward is done.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../common/index.js';
import { WS_PORT_FORWARD_PROTOCOLS, headerList, negotiate } from './negotiate.js';
import { refuseUpgrade } from './http-reply.js';
import { decodeChannelMessage, encodeChannelMessage } from './channels.js';
import { upgradeWebSocket } from './ws-upgrade.js';
import type { PortDialer, PortForwardOptions } from './portforward.js';

/** The ports of ?port=a,b&port=c, or the kubelet's reason for refusing them. */
export function parsePortQuery(url: URL): number[] | string {
  const values = url.searchParams.getAll('port');
  if (!values.length) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const value of values) {
    if (!value) return 'query parameter "port" cannot be empty';
    for (const p of value.split(',')) {
      const n = /^[0-9]{1,5}$/.test(p) ? Number(p) : NaN;
      if (!Number.isInteger(n) || n > 65535) return `unable to parse "${value}" as a port: invalid syntax`;
      if (n < 1) return `port "${value}" must be > 0`;
      ports.push(n);
    }
  }
  return ports;
}

export function servePortForwardWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, dial: PortDialer, options: PortForwardOptions, log: Logger): void {
  const ports = parsePortQuery(new URL(req.url ?? '/', 'http://localhost'));
  if (typeof ports === 'string') {
    refuseUpgrade(socket, 400, ports);
    return;
  }
  const offered = headerList(req.headers, 'sec-websocket-protocol');
  const protocol = offered.length ? negotiate(offered, WS_PORT_FORWARD_PROTOCOLS) : '';
  if (protocol === undefined) {
    refuseUpgrade(socket, 403, `unable to upgrade: requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${WS_PORT_FORWARD_PROTOCOLS.join(' ')}]`);
    return;
  }
  upgradeWebSocket(req, socket, head, protocol, (ws) => forwardOverWebSocket(ws, protocol.includes('base64'), ports, dial, options, log));
}

function forwardOverWebSocket(ws: WebSocket, base64: boolean, ports: number[], dial: PortDialer, options: PortForwardOptions, log: Logger): void {
  ws.on('error', (err: Error) => log.debug({ err: err.message }, 'port-forward websocket error'));
  const send = (channel: number, data: Buffer, cb: () => void = () => undefined): void => {
    if (ws.readyState !== ws.OPEN) cb();
    else ws.send(encodeChannelMessage(channel, data, base64), { binary: !base64 }, () => cb());
  };
  const targets: Array<Duplex | undefined> = ports.map(() => undefined);
  const early: Buffer[][] = ports.map(() => []);
  let open = ports.length;
  const done = (): void => {
    if (--open === 0) ws.close(1000);
  };

  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
    dial(port).then((target) => {
      if (ws.readyState !== ws.OPEN) {
        target.destroy();
        return;
      }
      targets[i] = target;
      for (const chunk of early[i]!) target.write(chunk);
      early[i] = [];
      target.on('data', (chunk: Buffer) => {
        target.pause();
        send(2 * i, chunk, () => target.resume());
      });
      target.on('error', (err: Error) => {
        send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${options.podName ?? ''}, uid ${options.uid ?? ''}: ${err.message}`));
        target.destroy();
      });
      target.on('close', done);
    }, (err: Error) => {
      send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${options.podName ?? ''}, uid ${options.uid ?? ''}: ${err.message}`));
      done();
    });
  });

  ws.on('message', (data: Buffer) => {
    const msg = decodeChannelMessage(data, base64, false);
    if (!msg || !('channel' in msg) || msg.channel % 2 !== 0) return;
    const i = msg.channel / 2;
    if (i >= ports.length) return;
    const target = targets[i];
    if (target) target.write(msg.data);
    else early[i]!.push(msg.data);
  });
  ws.on('close', () => {
    for (const t of targets) t?.destroy();
  });
}
