// Port-forward's dial: a TCP connection to 127.0.0.1:<port> inside the pod's network namespace, as
// dockershim made it (nsenter into the sandbox's netns, then socat). Entering the netns, not dialing the
// pod IP from the node, so that a server bound to the pod's loopback only is reached too, and a pod
// without an address on the node's bridge as well. A process cannot switch one thread's netns from
// Node, so each connection is a small helper: `nsenter --net=/proc/<sandbox pid>/ns/net node -e <relay>`,
// which connects and relays its stdin and stdout to the socket (half-closes kept). The helper says
// "connected" on stderr once the connection is up, or the error and exits 1.
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';

const RELAY = `
const net = require('node:net');
const s = net.connect({ host: '127.0.0.1', port: Number(process.argv[1]), allowHalfOpen: true });
s.once('connect', () => { process.stderr.write('connected\\n'); process.stdin.pipe(s); s.pipe(process.stdout); });
s.once('error', (e) => { process.stderr.write(String(e.message) + '\\n'); process.exit(1); });
s.once('close', () => process.exit(0));
process.stdout.on('error', () => s.destroy());
`;

export class DialError extends Error {}

/** A duplex to 127.0.0.1:port in the netns of process `pid`; rejects with the helper's error when it cannot connect. */
export function dialInNetns(pid: number, port: number, timeoutMs = 15_000): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', process.execPath, '-e', RELAY, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let settled = false;
    const timer = setTimeout(() => fail(`no connection after ${timeoutMs} ms`), timeoutMs);
    const fail = (msg: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new DialError(msg));
    };
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code) => fail(err.trim() || `the relay exited with code ${String(code)}`));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (settled || !err.includes('connected\n')) return;
      settled = true;
      clearTimeout(timer);
      const d = Duplex.from({ readable: child.stdout, writable: child.stdin });
      // Destroyed before both sides finished, a Duplex.from emits an AbortError: that is how a forward is cut, not a fault.
      d.on('error', () => d.destroy());
      // Closing the duplex ends the relay (its stdin and stdout go, it exits on the socket's close).
      d.once('close', () => {
        if (child.exitCode === null) setTimeout(() => child.kill('SIGTERM'), 5_000).unref();
      });
      resolve(d);
    });
  });
}
