// The apiserver's TLS to the kubelets: the session cache (newest per kubelet, TTL, bounded), and over real
// TLS (the CA, serving and client certificates the labs make) a second dial resuming the first one's session
// while the kubelet's authenticator still sees the apiserver's client certificate, verified; and an upgrade's
// dial started toward the kubelet the watch cache guessed, used only when etcd's pod and Node name it, with the
// cached pod's request written on it before etcd answers and the kubelet's answer held until etcd agrees; the
// spare connection dialled after a stream ends, used by the next one, closed with the proxy.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa, ensureServing, ensureUserClient, KubeletTls, servingSans, TlsSessionCache } from '../apiserver/index.js';
import { KubeletProxy } from '../apiserver/kubelet-proxy.js';
import { silentLogger } from '../common/index.js';
import { PassThrough, Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { KubeletAuth } from '../kubelet/server/index.js';

describe('the TLS session cache toward the kubelets', () => {
  it('keeps the newest session per kubelet for its TTL, then forgets it', () => {
    let now = 1_000;
    const c = new TlsSessionCache(300_000, () => now);
    expect(c.get('10.0.0.1:10250')).toBeUndefined();
    c.set('10.0.0.1:10250', Buffer.from('one'));
    c.set('10.0.0.1:10250', Buffer.from('two'));
    c.set('10.0.0.2:10250', Buffer.from('other'));
    expect(c.get('10.0.0.1:10250')?.toString()).toBe('two');
    expect(c.get('10.0.0.1:10251')).toBeUndefined();
    now += 299_999;
    expect(c.get('10.0.0.1:10250')?.toString()).toBe('two');
    now += 1;
    expect(c.get('10.0.0.1:10250')).toBeUndefined();
    c.delete('10.0.0.2:10250');
    expect(c.get('10.0.0.2:10250')).toBeUndefined();
  });

  it('is bounded: the least recently stored kubelet goes first', () => {
    const c = new TlsSessionCache(300_000, () => 0, 2);
    c.set('a:1', Buffer.from('a'));
    c.set('b:1', Buffer.from('b'));
    c.set('a:1', Buffer.from('a2'));
    c.set('c:1', Buffer.from('c'));
    expect(c.size).toBe(2);
    expect(c.get('b:1')).toBeUndefined();
    expect(c.get('a:1')?.toString()).toBe('a2');
  });
});

describe('dials to a kubelet-like server', () => {
  let dir = '';
  let srv: Server;
  let port = 0;
  let tls: KubeletTls;
  const seen: { user: string; reused: boolean }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kubelet-tls-'));
    const ca = await ensureCa(dir);
    const serving = await ensureServing(dir, ca, servingSans(['127.0.0.1'], ['localhost']));
    const client = await ensureUserClient(dir, ca, 'kube-apiserver-kubelet-client', ['system:masters']);
    const caPem = await readFile(ca.cert);
    const auth = new KubeletAuth({ anonymous: false, tokenTtlMs: 0, allowedTtlMs: 0, deniedTtlMs: 0 });
    // The kubelet server's own TLS options (server.ts): the client CA, certificates asked for, checked by the authenticator.
    srv = createServer({ cert: await readFile(serving.cert), key: await readFile(serving.key), ca: caPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      void auth.authenticate(req).then((who) => {
        seen.push({ user: 'user' in who ? who.user.name : `refused: ${who.failure}`, reused: (req.socket as TLSSocket).isSessionReused() });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    port = (srv.address() as AddressInfo).port;
    tls = new KubeletTls({ cert: await readFile(client.cert), key: await readFile(client.key), ca: caPem });
  });

  afterAll(async () => {
    srv.closeAllConnections();
    srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** One request on a fresh connection, as the tunnel makes it; whether the session was resumed. */
  const dial = (): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...tls.options('127.0.0.1', port) });
      tls.track(s, '127.0.0.1', port);
      s.once('error', reject);
      s.once('secureConnect', () => s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
      let body = '';
      s.on('data', (b: Buffer) => (body += b.toString()));
      s.once('end', () => {
        expect(body).toContain('200 OK');
        resolve(s.isSessionReused());
      });
    });

  it('resumes the session of the previous dial, and the kubelet still knows the client certificate', async () => {
    expect(await dial()).toBe(false);
    expect(await dial()).toBe(true);
    expect(await dial()).toBe(true);
    expect(seen).toEqual([
      { user: 'kube-apiserver-kubelet-client', reused: false },
      { user: 'kube-apiserver-kubelet-client', reused: true },
      { user: 'kube-apiserver-kubelet-client', reused: true },
    ]);
  });

  it('falls back to a full handshake when the kubelet does not know the session (it restarted)', async () => {
    expect(tls.options('127.0.0.1', port).session).toBeDefined();
    // A session the server cannot decrypt (another server's ticket keys): refused, a full handshake follows.
    srv.setTicketKeys(Buffer.alloc(48, 7));
    expect(await dial()).toBe(false);
    expect(await dial()).toBe(true);
    expect(seen.at(-1)).toEqual({ user: 'kube-apiserver-kubelet-client', reused: true });
  });
});

describe("an upgrade's dial to the kubelet", () => {
  let dir = '';
  const servers: Server[] = [];
  const ports: number[] = [];
  /** Per server: connections made, and the request lines received. */
  const seen: { conns: number; closed: number; requests: string[]; at: number[]; connectedAt: number[] }[] = [];
  let client: { cert: Buffer; key: Buffer; ca: Buffer };
  let servingPem: { cert: Buffer; key: Buffer };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kubelet-dial-'));
    const ca = await ensureCa(dir);
    const serving = await ensureServing(dir, ca, servingSans(['127.0.0.1'], ['localhost']));
    const c = await ensureUserClient(dir, ca, 'kube-apiserver-kubelet-client', []);
    client = { cert: await readFile(c.cert), key: await readFile(c.key), ca: await readFile(ca.cert) };
    servingPem = { cert: await readFile(serving.cert), key: await readFile(serving.key) };
    for (let i = 0; i < 2; i++) {
      const mine = { conns: 0, closed: 0, requests: [] as string[], at: [] as number[], connectedAt: [] as number[] };
      const connected = new WeakMap<object, number>();
      seen.push(mine);
      const srv = createServer({ cert: await readFile(serving.cert), key: await readFile(serving.key) });
      srv.on('secureConnection', (s) => {
        mine.conns++;
        connected.set(s, Date.now());
        s.once('close', () => mine.closed++);
      });
      srv.on('upgrade', (req: IncomingMessage, sock: Duplex) => {
        mine.requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
        mine.at.push(Date.now());
        mine.connectedAt.push(connected.get(req.socket) ?? 0);
        sock.end(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Seen: ${req.url ?? ''}\r\n\r\n`);
      });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
      servers.push(srv);
      ports.push((srv.address() as AddressInfo).port);
    }
  });

  afterAll(async () => {
    for (const srv of servers) {
      srv.closeAllConnections();
      srv.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  const nodeAt = (name: string, port: number): Record<string, unknown> => ({ metadata: { name }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } });

  /** One exec upgrade through the proxy; what the client got back. */
  async function exec(proxy: KubeletProxy): Promise<string> {
    const fromClient = new PassThrough();
    const toClient = new PassThrough();
    const socket = Duplex.from({ readable: fromClient, writable: toClient });
    let answer = '';
    toClient.on('data', (b: Buffer) => (answer += b.toString()));
    const req = { method: 'POST', rawHeaders: ['Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1', 'Authorization', 'Bearer secret'] } as unknown as IncomingMessage;
    await proxy.connect('exec', 'default', 'web', new URLSearchParams('command=true&stdout=true'), req, socket, Buffer.alloc(0));
    for (let i = 0; i < 100 && !answer.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
    return answer;
  }

  const settled = async (i: number): Promise<void> => {
    for (let n = 0; n < 100 && seen[i]!.closed < seen[i]!.conns; n++) await new Promise((r) => setTimeout(r, 20));
    expect(seen[i]!.closed).toBe(seen[i]!.conns);
  };
  const until = async (what: () => boolean): Promise<void> => {
    for (let n = 0; n < 100 && !what(); n++) await new Promise((r) => setTimeout(r, 20));
    expect(what()).toBe(true);
  };

  it('uses the dial it started toward the cached kubelet when etcd names the same one', async () => {
    const nodes: Record<string, Record<string, unknown>> = { a: nodeAt('a', ports[0]!), b: nodeAt('b', ports[1]!) };
    const proxy = new KubeletProxy({ ...client, preferredAddressTypes: ['InternalIP'], timeoutMs: 5_000 }, {
      getPod: () => Promise.resolve({ metadata: { name: 'web' }, spec: { nodeName: 'a', containers: [{ name: 'c' }] } }),
      getNode: (n) => Promise.resolve(nodes[n]!),
      nodeNameHint: () => 'a',
      cachedNode: (n) => nodes[n],
      log: silentLogger,
    });
    expect(await exec(proxy)).toContain('101 Switching Protocols');
    expect(seen[0]!.requests).toEqual(['POST /exec/default/web/c?command=true&output=1']);
    expect(seen[1]!.conns).toBe(0);
    // The stream over, a spare connection is dialled to that kubelet; closing the proxy closes it.
    await until(() => seen[0]!.conns === 2);
    proxy.close();
    await settled(0);
  });

  it('drops that dial, unused, when the pod is on another kubelet now, and dials that one', async () => {
    seen[0]!.requests.length = 0;
    const before = seen[0]!.conns;
    const nodes: Record<string, Record<string, unknown>> = { a: nodeAt('a', ports[0]!), b: nodeAt('b', ports[1]!) };
    const proxy = new KubeletProxy({ ...client, preferredAddressTypes: ['InternalIP'], timeoutMs: 5_000 }, {
      // The watch cache still has the pod on a; etcd says b.
      getPod: () => new Promise((r) => setTimeout(() => r({ metadata: { name: 'web' }, spec: { nodeName: 'b', containers: [{ name: 'c' }] } }), 50)),
      getNode: (n) => Promise.resolve(nodes[n]!),
      nodeNameHint: () => 'a',
      cachedNode: (n) => nodes[n],
      log: silentLogger,
    });
    expect(await exec(proxy)).toContain('101 Switching Protocols');
    expect(seen[1]!.requests).toEqual(['POST /exec/default/web/c?command=true&output=1']);
    // a was dialed (the guess) but asked nothing.
    expect(seen[0]!.conns).toBe(before + 1);
    expect(seen[0]!.requests).toEqual([]);
    // ... and closed, not left open on the kubelet.
    await settled(0);
    proxy.close();
    await settled(1);
  });

  const web = (nodeName: string, container: string): Record<string, unknown> => ({ metadata: { name: 'web' }, spec: { nodeName, containers: [{ name: container }] } });

  it("writes the cached pod's request before etcd answers, and passes the kubelet's answer on once etcd agrees", async () => {
    for (const x of seen) x.requests.length = x.at.length = x.connectedAt.length = 0;
    const nodes: Record<string, Record<string, unknown>> = { a: nodeAt('a', ports[0]!), b: nodeAt('b', ports[1]!) };
    let etcdAt = 0;
    const proxy = new KubeletProxy({ ...client, preferredAddressTypes: ['InternalIP'], timeoutMs: 5_000 }, {
      getPod: () => new Promise((r) => setTimeout(() => {
        etcdAt = Date.now();
        r(web('a', 'c'));
      }, 300)),
      getNode: (n) => Promise.resolve(nodes[n]!),
      nodeNameHint: () => 'a',
      cachedNode: (n) => nodes[n],
      cachedPod: () => web('a', 'c'),
      log: silentLogger,
    });
    const answer = await exec(proxy);
    expect(answer).toContain('101 Switching Protocols');
    expect(answer).toContain('X-Seen: /exec/default/web/c?command=true&output=1');
    expect(seen[0]!.requests).toEqual(['POST /exec/default/web/c?command=true&output=1']);
    expect(seen[0]!.at[0]!).toBeLessThan(etcdAt);
    proxy.close();
    await settled(0);
  });

  it("closes that connection unanswered when etcd's pod makes another request, and asks again", async () => {
    for (const x of seen) x.requests.length = x.at.length = x.connectedAt.length = 0;
    const nodes: Record<string, Record<string, unknown>> = { a: nodeAt('a', ports[0]!), b: nodeAt('b', ports[1]!) };
    const proxy = new KubeletProxy({ ...client, preferredAddressTypes: ['InternalIP'], timeoutMs: 5_000 }, {
      // The cache has the pod's previous incarnation, whose only container was another.
      getPod: () => new Promise((r) => setTimeout(() => r(web('a', 'c')), 100)),
      getNode: (n) => Promise.resolve(nodes[n]!),
      nodeNameHint: () => 'a',
      cachedNode: (n) => nodes[n],
      cachedPod: () => web('a', 'old'),
      log: silentLogger,
    });
    const answer = await exec(proxy);
    expect(answer).toContain('X-Seen: /exec/default/web/c?command=true&output=1');
    expect(answer).not.toContain('/old');
    expect(seen[0]!.requests).toEqual(['POST /exec/default/web/old?command=true&output=1', 'POST /exec/default/web/c?command=true&output=1']);
    proxy.close();
    await settled(0);
  });

  it('answers a 500 Status when the kubelet says nothing within the kubelet timeout', async () => {
    const srv = createServer({ cert: servingPem.cert, key: servingPem.key });
    srv.on('upgrade', () => undefined);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    try {
      const nodes: Record<string, Record<string, unknown>> = { a: nodeAt('a', (srv.address() as AddressInfo).port) };
      const proxy = new KubeletProxy({ ...client, preferredAddressTypes: ['InternalIP'], timeoutMs: 300 }, {
        getPod: () => Promise.resolve(web('a', 'c')),
        getNode: (n) => Promise.resolve(nodes[n]!),
        log: silentLogger,
      });
      const answer = await exec(proxy);
      expect(answer).toMatch(/^HTTP\/1.1 500 /);
      expect(answer).toContain('no answer from the kubelet');
      proxy.close();
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });

  it('sends the next stream on the spare connection the last one left: no new dial', async () => {
    for (const x of seen) x.requests.length = x.at.length = x.connectedAt.length = 0;
    const nodes: Record<string, Record<string, unknown>> = { a: nodeAt('a', ports[0]!) };
    const proxy = new KubeletProxy({ ...client, preferredAddressTypes: ['InternalIP'], timeoutMs: 5_000 }, {
      getPod: () => Promise.resolve(web('a', 'c')),
      getNode: (n) => Promise.resolve(nodes[n]!),
      log: silentLogger,
    });
    expect(await exec(proxy)).toContain('101 Switching Protocols');
    // The first stream over, its spare is dialled (give it the time).
    await new Promise((r) => setTimeout(r, 300));
    const second = Date.now();
    expect(await exec(proxy)).toContain('X-Seen: /exec/default/web/c?command=true&output=1');
    // The second request came on a connection made before it was asked for.
    expect(seen[0]!.connectedAt[1]!).toBeLessThan(second);
    expect(seen[0]!.connectedAt[1]!).toBeGreaterThan(seen[0]!.at[0]!);
    expect(seen[0]!.requests).toEqual(['POST /exec/default/web/c?command=true&output=1', 'POST /exec/default/web/c?command=true&output=1']);
    proxy.close();
    await settled(0);
  });
});
