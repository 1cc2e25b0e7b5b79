// A NETLINK_NETFILTER socket in the network namespace this process was started in (`nsenter --net=…
// -- node netlink-relay.js`), for a caller in another namespace: a socket belongs to the namespace of
// the process that opens it, and Node cannot switch namespaces. Datagrams framed on stdin are sent to
// the kernel; whatever the kernel answers goes back framed on stdout. Ends when stdin closes.
import { frame, takeFrames } from './frames.js';
import { NETLINK_NETFILTER, RawNetlinkSocket } from './netlink-pkg.js';

const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
let buf: Buffer = Buffer.alloc(0);
sock.on('message', (m: Buffer) => process.stdout.write(frame(m)));
sock.on('error', (e: Error) => {
  process.stderr.write(`netlink-relay: ${e.message}\n`);
  process.exit(1);
});
process.stdin.on('data', (d: Buffer) => {
  const r = takeFrames(Buffer.concat([buf, d]));
  buf = Buffer.from(r.rest);
  for (const f of r.frames) {
    sock.send(f, {}, (e) => {
      if (e) {
        process.stderr.write(`netlink-relay: send: ${e.message}\n`);
        process.exit(1);
      }
    });
  }
});
process.stdin.on('end', () => {
  sock.close();
  process.exit(0);
});
