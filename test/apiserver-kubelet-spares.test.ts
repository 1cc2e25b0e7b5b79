// The pool of spare connections to the kubelets, over real TCP sockets on 127.0.0.1: a held spare is taken
// once and works; one the peer closes or writes on is dropped; one not taken in time is closed; a second
// offer for a held key, and any offer after close(), is closed at once.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpareConnections } from '../apiserver/kubelet-spares.js';

describe('spare connections', () => {
  let srv: Server;
  let port = 0;
  const peers: Socket[] = [];

  beforeAll(async () => {
    srv = createServer((s) => {
      peers.push(s);
      s.on('data', (b: Buffer) => s.write(`echo ${b.toString()}`));
      s.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    port = (srv.address() as AddressInfo).port;
  });
  afterAll(() => {
    for (const p of peers) p.destroy();
    srv.close();
  });

  const dial = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  const until = async (what: () => boolean): Promise<boolean> => {
    for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
    return what();
  };

  it('hands a held spare out once, paused and working', async () => {
    const pool = new SpareConnections<Socket>(5_000);
    const s = await dial();
    pool.offer('k', s);
    expect(pool.has('k')).toBe(true);
    const got = pool.take('k');
    expect(got).toBe(s);
    expect(pool.take('k')).toBeUndefined();
    expect(got!.isPaused()).toBe(true);
    const answer = new Promise<string>((r) => got!.once('data', (b: Buffer) => r(b.toString())));
    // Paused means nothing is read until the new owner asks (a pipe resumes it).
    got!.resume();
    got!.write('hi');
    expect(await answer).toBe('echo hi');
    got!.destroy();
  });

  it('drops a spare the peer closes, and one the peer writes on', async () => {
    const pool = new SpareConnections<Socket>(5_000);
    const a = await dial();
    pool.offer('a', a);
    await until(() => peers.length > 0);
    peers.at(-1)!.end();
    expect(await until(() => !pool.has('a'))).toBe(true);
    expect(a.destroyed).toBe(true);
    const b = await dial();
    pool.offer('b', b);
    await until(() => peers.length > 1);
    peers.at(-1)!.write('unasked');
    expect(await until(() => !pool.has('b'))).toBe(true);
    expect(pool.take('b')).toBeUndefined();
  });

  it('closes a spare not taken in time', async () => {
    const pool = new SpareConnections<Socket>(50);
    const s = await dial();
    pool.offer('k', s);
    expect(await until(() => s.destroyed)).toBe(true);
    expect(pool.has('k')).toBe(false);
  });

  it('closes a second offer for a held key, and every offer after close()', async () => {
    const pool = new SpareConnections<Socket>(5_000);
    const first = await dial();
    const second = await dial();
    pool.offer('k', first);
    pool.offer('k', second);
    expect(second.destroyed).toBe(true);
    pool.close();
    expect(first.destroyed).toBe(true);
    const late = await dial();
    pool.offer('k', late);
    expect(late.destroyed).toBe(true);
    expect(pool.size).toBe(0);
  });
});
