// sd_notify through the native addon, received on a datagram socket of the test's own (python3's
// socket module: Node has no AF_UNIX datagram sockets, which is why the sender is native).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotifyError, sdNotify } from '../flanneld/sd-notify.js';

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind(('\\0' + name[1:]) if name.startswith('@') else name)
s.settimeout(5)
print('bound', flush=True)
data = s.recv(4096)
sys.stdout.write(data.decode())
`;

/** Binds a datagram socket at `name`, then resolves with the one datagram it receives. */
async function receiver(name: string): Promise<{ bound: Promise<void>; received: Promise<string> }> {
  const p = spawn('python3', ['-c', RECEIVER, name], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 10_000 });
  let out = '';
  let onBound: () => void = () => undefined;
  const bound = new Promise<void>((r) => (onBound = r));
  p.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.startsWith('bound\n')) onBound();
  });
  const received = new Promise<string>((resolve, reject) => {
    p.once('exit', (code) => (code === 0 ? resolve(out.replace(/^bound\n/, '')) : reject(new Error(`receiver exited ${code}`))));
  });
  return { bound, received };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), `flnotify${process.pid}-`));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sd_notify', () => {
  it('sends READY=1 to a socket path', async () => {
    const sock = path.join(dir, 'notify');
    const r = await receiver(sock);
    await r.bound;
    expect(sdNotify('READY=1', { NOTIFY_SOCKET: sock })).toBe(true);
    expect(await r.received).toBe('READY=1');
  });
  it('sends to an abstract socket name (@…), as systemd uses', async () => {
    const name = `@flnotify-${process.pid}-${Date.now()}`;
    const r = await receiver(name);
    await r.bound;
    expect(sdNotify('READY=1\nSTATUS=subnet 10.5.72.1/24', { NOTIFY_SOCKET: name })).toBe(true);
    expect(await r.received).toBe('READY=1\nSTATUS=subnet 10.5.72.1/24');
  });
  it('does nothing without NOTIFY_SOCKET', () => {
    expect(sdNotify('READY=1', {})).toBe(false);
  });
  it('names the socket when it cannot send', () => {
    const gone = path.join(dir, 'nobody-listens');
    expect(() => sdNotify('READY=1', { NOTIFY_SOCKET: gone })).toThrow(NotifyError);
    expect(() => sdNotify('READY=1', { NOTIFY_SOCKET: gone })).toThrow(new RegExp(`${gone}.*No such file`));
    expect(() => sdNotify('READY=1', { NOTIFY_SOCKET: 'relative' })).toThrow(/absolute path or an abstract name/);
  });
});
