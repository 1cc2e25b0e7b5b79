// The streaming servers against the real kubectl: a tiny plain-HTTP "apiserver" on 127.0.0.1 that
// serves one Pod and hands exec, attach and portforward upgrades to serveExec/servePortForward, which
// run real child processes and dial a real TCP echo server. Debian's kubectl 1.20 and 1.29 speak
// SPDY only; 1.33 tries WebSocket first (v5.channel.k8s.io for exec, the SPDY tunnel for port-forward)
// and is also run with its WebSocket switches off to cover its SPDY side.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { serveExec, servePortForward, type ExecResult, type ExecStreams, type StreamOptions, type TerminalSize } from '../../streaming/index.js';
import { kubectlBinaries } from '../harness/index.js';

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', uid: '5c3f8a4e-0000-4000-8000-000000000001', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
  status: { phase: 'Running', podIP: '127.0.0.1', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }] },
};

const RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
};

interface Upgrade { path: string; upgrade: string; protocols: string }

class FakeApiServer {
  readonly upgrades: Upgrade[] = [];
  readonly sizes: TerminalSize[] = [];
  readonly ttyRuns: boolean[] = [];
  private server!: Server;
  private readonly upgraded = new Set<Duplex>();
  port = 0;

  constructor(private readonly echoPort: () => number) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get openUpgrades(): number {
    return this.upgraded.size;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    for (const s of this.upgraded) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/version':
        return json(200, { major: '1', minor: '33', gitVersion: 'v1.33.0', platform: 'linux/amd64' });
      case '/api':
        return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
      case '/apis':
        return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      case '/api/v1':
        return json(200, RESOURCES);
      case '/api/v1/namespaces/default/pods/p':
        return json(200, POD);
      default:
        return json(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${url.pathname} not found`, reason: 'NotFound', code: 404 });
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.upgraded.add(socket);
    socket.on('close', () => this.upgraded.delete(socket));
    this.upgrades.push({
      path: url.pathname,
      upgrade: String(req.headers.upgrade ?? ''),
      protocols: String(req.headers['sec-websocket-protocol'] ?? req.headers['x-stream-protocol-version'] ?? ''),
    });
    const base = '/api/v1/namespaces/default/pods/p/';
    if (url.pathname === `${base}exec`) serveExec(req, socket, head, (streams, opts) => this.run(url.searchParams.getAll('command'), streams, opts));
    else if (url.pathname === `${base}attach`) serveExec(req, socket, head, (streams, opts) => this.run(['cat'], streams, opts));
    else if (url.pathname === `${base}portforward`) servePortForward(req, socket, head, (port) => dial(port === 7 ? this.echoPort() : port), { podName: 'p', uid: POD.metadata.uid });
    else socket.destroy();
  }

  /** A container runtime's exec: the argv as a child process, its stdio spliced to the streams. */
  private async run(argv: string[], streams: ExecStreams, opts: StreamOptions): Promise<ExecResult> {
    if (!argv.length) return { error: 'no command' };
    this.ttyRuns.push(opts.tty);
    if (opts.tty && streams.resize) {
      // kubectl sends the terminal's size as soon as the streams are up.
      const size = await new Promise<TerminalSize | undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), 10_000);
        streams.resize!.once('size', (s: TerminalSize) => {
          clearTimeout(t);
          resolve(s);
        });
      });
      if (size) this.sizes.push(size);
      streams.stdout?.write(`size=${size?.width}x${size?.height}\n`);
    }
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => undefined);
    if (streams.stdin) streams.stdin.pipe(child.stdin);
    else child.stdin.end();
    const out = streams.stdout;
    const err = streams.stderr ?? (opts.tty ? out : undefined);
    if (out) child.stdout.pipe(out, { end: false });
    else child.stdout.resume();
    if (err) child.stderr.pipe(err, { end: false });
    else child.stderr.resume();
    streams.signal?.addEventListener('abort', () => child.kill());
    return new Promise((resolve) => {
      child.on('error', (e) => resolve({ error: e.message }));
      child.on('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 + 9 : 1) }));
    });
  }
}

function dial(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

interface Run { code: number | null; stdout: Buffer; stderr: string }

/** Runs kubectl to completion (bounded), with `input` on its stdin. */
function runKubectl(bin: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.stdin.on('error', () => undefined);
    if (input) child.stdin.end(input);
    else child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

function echoServer(): Promise<TcpServer> {
  const server = createTcpServer({ allowHalfOpen: true }, (s: Socket) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Sends `data` through localhost:port and reads back as many bytes. */
function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let n = 0;
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`echo through port-forward timed out after ${n} of ${data.length} bytes`));
    }, 30_000);
    s.on('data', (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n >= data.length) {
        clearTimeout(t);
        s.end();
        resolve(Buffer.concat(got));
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.write(data);
  });
}

/** Starts `kubectl port-forward` and waits for the local port it prints. */
async function startPortForward(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; localPort: number; output: () => string }> {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => { text += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { text += c.toString(); });
  for (let i = 0; i < 300; i++) {
    const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(text);
    if (m) return { child, localPort: Number(m[1]), output: () => text };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`kubectl port-forward did not start: ${text}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

const ALL = kubectlBinaries();
const CHOSEN = ['1.20', '1.29', '1.33'].map((v) => ALL.find((b) => b.version === v)!).filter((b) => b.present);

describe('streaming protocols with the real kubectl', () => {
  let dir: string;
  let kubeconfig: string;
  let echo: TcpServer;
  let api: FakeApiServer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'streaming-'));
    echo = await echoServer();
    api = new FakeApiServer(() => (echo.address() as AddressInfo).port);
    await api.start();
    kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: http://127.0.0.1:${api.port}\n  name: c\ncontexts:\n- context:\n    cluster: c\n    namespace: default\n    user: u\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n`);
  });

  afterAll(async () => {
    await api?.stop();
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has the kubectl binaries to test with', () => {
    expect(CHOSEN.map((b) => b.version)).toContain('1.20');
    expect(CHOSEN.map((b) => b.version)).toContain('1.33');
  });

  // 1.33 twice: as it comes (WebSocket first), and with its WebSocket clients switched off (SPDY).
  const variants = CHOSEN.flatMap((b) => (b.version === '1.33'
    ? [{ ...b, label: '1.33 websocket', ws: true }, { ...b, label: '1.33 spdy', ws: false }]
    : [{ ...b, label: b.version, ws: false }]));

  for (const k of variants) {
    describe(`kubectl ${k.label}`, () => {
      const env = (): NodeJS.ProcessEnv => ({
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        ...(k.version === '1.33' && !k.ws && { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }),
      });
      const kc = (...args: string[]): string[] => [`--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(dir, `cache-${k.version}`)}`, ...args];
      const lastUpgrade = (suffix: string): Upgrade => [...api.upgrades].reverse().find((u) => u.path.endsWith(suffix))!;

      it('exec prints the output and exits 0, over the protocol this kubectl speaks', async () => {
        const r = await runKubectl(k.path, kc('exec', 'p', '--', 'echo', 'hi'), env());
        expect(r.stderr).toBe('');
        expect(r.stdout.toString()).toBe('hi\n');
        expect(r.code).toBe(0);
        const u = lastUpgrade('/exec');
        if (k.ws) {
          expect(u.upgrade.toLowerCase()).toBe('websocket');
          expect(u.protocols).toContain('v5.channel.k8s.io');
        } else {
          expect(u.upgrade).toBe('SPDY/3.1');
          expect(u.protocols).toContain('v4.channel.k8s.io');
        }
      });

      it('exec passes a non-zero exit code through', async () => {
        const r = await runKubectl(k.path, kc('exec', 'p', '--', 'sh', '-c', 'exit 3'), env());
        expect(r.code).toBe(3);
        expect(r.stderr).toContain('command terminated with exit code 3');
      });

      it('exec keeps stderr apart from stdout', async () => {
        const r = await runKubectl(k.path, kc('exec', 'p', '--', 'sh', '-c', 'echo out; echo err >&2'), env());
        expect(r.code).toBe(0);
        expect(r.stdout.toString()).toBe('out\n');
        expect(r.stderr).toBe('err\n');
      });

      it('exec -i round-trips stdin, and 1 MiB of it without stalling', async () => {
        const small = await runKubectl(k.path, kc('exec', '-i', 'p', '--', 'cat'), env(), Buffer.from('data\n'));
        expect(small.stdout.toString()).toBe('data\n');
        expect(small.code).toBe(0);
        const big = Buffer.from(randomBytes(786_432).toString('base64'));
        expect(big.length).toBe(1 << 20);
        const r = await runKubectl(k.path, kc('exec', '-i', 'p', '--', 'cat'), env(), big);
        expect(r.code).toBe(0);
        expect(r.stdout.length).toBe(big.length);
        expect(r.stdout.equals(big)).toBe(true);
      });

      it('exec -ti gets a TTY and the terminal size through the resize stream', async () => {
        const script = `stty cols 100 rows 30; exec ${k.path} ${kc('exec', '-ti', 'p', '--', 'echo', 'tty-ok').join(' ')}`;
        const child = spawn('script', ['-qfec', script, '/dev/null'], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
        let text = '';
        child.stdout.on('data', (c: Buffer) => { text += c.toString(); });
        child.stderr.on('data', (c: Buffer) => { text += c.toString(); });
        const before = api.ttyRuns.length;
        const code = await new Promise<number | null>((resolve) => {
          const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
          child.on('close', (c) => {
            clearTimeout(t);
            resolve(c);
          });
        });
        expect(text).toContain('size=100x30');
        expect(text).toContain('tty-ok');
        expect(code).toBe(0);
        expect(api.ttyRuns.slice(before)).toEqual([true]);
      });

      it('attach -i splices stdin to the attached process', async () => {
        const r = await runKubectl(k.path, kc('attach', '-i', 'p', '-c', 'c'), env(), Buffer.from('attached\n'));
        expect(r.stdout.toString()).toContain('attached\n');
        expect(r.code).toBe(0);
      });

      it('port-forward carries TCP connections to the pod port, one after another', async () => {
        const pf = await startPortForward(k.path, kc('port-forward', '--address=127.0.0.1', 'pod/p', ':7'), env());
        try {
          const first = randomBytes(200_000);
          expect((await roundTrip(pf.localPort, first)).equals(first)).toBe(true);
          const second = Buffer.from('second connection\n');
          expect((await roundTrip(pf.localPort, second)).toString()).toBe(second.toString());
        } finally {
          await stopChild(pf.child);
        }
        const u = lastUpgrade('/portforward');
        if (k.ws) {
          expect(u.upgrade.toLowerCase()).toBe('websocket');
          expect(u.protocols).toContain('SPDY/3.1+portforward.k8s.io');
        } else {
          expect(u.upgrade).toBe('SPDY/3.1');
          expect(u.protocols).toContain('portforward.k8s.io');
        }
      });

      it("port-forward reports a refused pod port on the error stream, as the kubelet's text", async () => {
        const closed = await echoServer();
        const port = (closed.address() as AddressInfo).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        const pf = await startPortForward(k.path, kc('port-forward', '--address=127.0.0.1', 'pod/p', `:${port}`), env());
        try {
          const s = connect(pf.localPort, '127.0.0.1');
          s.on('error', () => undefined);
          for (let i = 0; i < 200 && !pf.output().includes('error forwarding port'); i++) await new Promise((r) => setTimeout(r, 100));
          s.destroy();
          expect(pf.output()).toContain(`error forwarding port ${port} to pod p, uid ${POD.metadata.uid}: connect ECONNREFUSED`);
        } finally {
          await stopChild(pf.child);
        }
      });
    });
  }

  it('answers a garbage upgrade with a 400 Status and keeps serving', async () => {
    const raw = (request: string): Promise<string> => new Promise((resolve) => {
      const s = connect(api.port, '127.0.0.1');
      let text = '';
      s.on('data', (c: Buffer) => { text += c.toString(); });
      s.on('error', () => resolve(text));
      s.on('close', () => resolve(text));
      s.write(request);
      setTimeout(() => s.destroy(), 10_000).unref();
    });
    const noVersion = await raw('POST /api/v1/namespaces/default/pods/p/exec?command=true&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n');
    expect(noVersion).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(noVersion.slice(noVersion.indexOf('\r\n\r\n') + 4))).toMatchObject({ kind: 'Status', status: 'Failure', code: 400, message: 'unable to upgrade: X-Stream-Protocol-Version is required' });
    const noStreams = await raw('POST /api/v1/namespaces/default/pods/p/exec?command=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
    expect(noStreams).toContain('you must specify at least 1 of stdin, stdout, stderr');
    const wrongVersion = await raw('POST /api/v1/namespaces/default/pods/p/exec?command=true&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v9.channel.k8s.io\r\n\r\n');
    expect(wrongVersion).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(wrongVersion).toContain('X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io');
    const otherUpgrade = await raw('GET /api/v1/namespaces/default/pods/p/portforward HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    expect(otherUpgrade).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    // A good handshake followed by bytes that are not SPDY: the server drops that connection only.
    const junk = await raw('POST /api/v1/namespaces/default/pods/p/exec?command=true&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n\x80\x03\x00\x01\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00garbage!');
    expect(junk).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);

    const after = await runKubectl(CHOSEN[0]!.path, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(dir, 'cache-after')}`, 'exec', 'p', '--', 'echo', 'still up'], { PATH: process.env.PATH ?? '', HOME: dir });
    expect(after.stdout.toString()).toBe('still up\n');
  });

  /** Collects a WebSocket session's messages until the server closes it. */
  const wsSession = (pathAndQuery: string, protocol: string, onOpen: (ws: WebSocket) => void = () => undefined): Promise<Array<{ data: Buffer; binary: boolean }>> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${api.port}${pathAndQuery}`, protocol);
      const got: Array<{ data: Buffer; binary: boolean }> = [];
      const t = setTimeout(() => {
        ws.terminate();
        reject(new Error(`websocket session timed out after ${got.length} messages`));
      }, 20_000);
      ws.on('open', () => {
        expect(ws.protocol).toBe(protocol);
        onOpen(ws);
      });
      ws.on('message', (data: Buffer, binary: boolean) => got.push({ data, binary }));
      ws.on('error', reject);
      ws.on('close', (code) => {
        clearTimeout(t);
        expect(code).toBe(1000);
        resolve(got);
      });
    });

  it('speaks the older WebSocket exec protocols a kubelet serves (v4 binary, base64)', async () => {
    const exec = '/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&command=echo%20hi%3B%20exit%205&stdout=1';
    const v4 = await wsSession(exec, 'v4.channel.k8s.io');
    // The kubelet's empty "connection is open" message on stdout, the output, then the Status.
    expect(v4[0]!.data.toString('hex')).toBe('01');
    expect(Buffer.concat(v4.filter((m) => m.data[0] === 1).map((m) => m.data.subarray(1))).toString()).toBe('hi\n');
    const status = JSON.parse(v4.find((m) => m.data[0] === 3)!.data.subarray(1).toString()) as { reason: string; details: unknown };
    expect(status.reason).toBe('NonZeroExitCode');
    expect(status.details).toEqual({ causes: [{ reason: 'ExitCode', message: '5' }] });

    const b64 = await wsSession('/api/v1/namespaces/default/pods/p/exec?command=cat&stdin=1&stdout=1', 'base64.channel.k8s.io', (ws) => {
      ws.send(`0${Buffer.from('via base64\n').toString('base64')}`);
      // base64.channel.k8s.io has no CLOSE signal: the client ends stdin by closing, once the echo is back.
      ws.on('message', (m: Buffer) => {
        if (m.toString().startsWith('1') && m.length > 1) ws.close(1000);
      });
    });
    expect(b64.every((m) => !m.binary)).toBe(true);
    expect(b64.filter((m) => m.data.toString().startsWith('1')).map((m) => Buffer.from(m.data.toString().slice(1), 'base64').toString()).join('')).toBe('via base64\n');
  });

  it('forwards a port over the older WebSocket port-forward (?port=, channel pairs)', async () => {
    const got = await wsSession('/api/v1/namespaces/default/pods/p/portforward?port=7', 'v4.channel.k8s.io', (ws) => {
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping over ws')]));
      let echoed = 0;
      ws.on('message', (m: Buffer) => {
        if (m[0] === 0 && m.length > 3) echoed += m.length - 1;
        if (echoed >= 'ping over ws'.length) ws.close(1000);
      });
    });
    // Each channel opens with the port, little-endian; then the echo comes back on the data channel.
    expect(got.slice(0, 2).map((m) => m.data.toString('hex'))).toEqual(['000700', '010700']);
    expect(Buffer.concat(got.slice(2).filter((m) => m.data[0] === 0).map((m) => m.data.subarray(1))).toString()).toBe('ping over ws');
  });

  it('leaves no upgraded connection open once its kubectl is gone', async () => {
    for (let i = 0; i < 100 && api.openUpgrades > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(api.openUpgrades).toBe(0);
  });
});
