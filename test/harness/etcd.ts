// A real etcd for tests: a fresh data dir and free ports, on root loopback or inside a lab
// namespace (so daemons in that namespace can reach it). Stopped by PID, never by name.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface EtcdServerOptions {
  /** Run inside this network namespace (path under /var/run/netns), listening on `host`. */
  readonly netnsPath?: string;
  /** The address to listen on (default 127.0.0.1). */
  readonly host?: string;
  readonly dir?: string;
  readonly name?: string;
  /** Extra etcd flags, e.g. a short auto-compaction. */
  readonly extraArgs?: readonly string[];
  /** Serve clients over TLS with this server certificate, requiring client certificates signed by `ca`. */
  readonly tls?: EtcdTls;
}

/** PEM file paths: the CA, and a certificate and key signed by it. */
export interface EtcdTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestCerts {
  readonly dir: string;
  /** The server's certificate (SAN IP:127.0.0.1, DNS:localhost) and the CA that signed it. */
  readonly server: EtcdTls;
  /** A client certificate from the same CA. */
  readonly client: EtcdTls;
  /** A client certificate from another CA, which the server refuses. */
  readonly foreignClient: EtcdTls;
}

/** A CA, a server and two client certificates (one from a foreign CA), made with openssl in `dir`. */
export async function makeTestCerts(dir: string): Promise<TestCerts> {
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  const ssl = (args: string[]) => run('openssl', args, { timeout: 20_000 });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    await ssl(['req', '-x509', ...newKey, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '2', '-subj', `/CN=${ca}`]);
  }
  const sign = async (name: string, ca: string, ext: string) => {
    await ssl(['req', ...newKey, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
    await writeFile(f(`${name}.ext`), ext);
    await ssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`)]);
    return { ca: f('ca.crt'), cert: f(`${name}.crt`), key: f(`${name}.key`) };
  };
  return {
    dir,
    server: await sign('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n'),
    client: await sign('client', 'ca', 'extendedKeyUsage=clientAuth\n'),
    foreignClient: await sign('foreign', 'other-ca', 'extendedKeyUsage=clientAuth\n'),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class EtcdServer {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly opts: EtcdServerOptions,
  ) {}

  get endpoint(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.host}:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  static async start(opts: EtcdServerOptions = {}): Promise<EtcdServer> {
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), `fletcd${process.pid}-`)));
    await mkdir(dir, { recursive: true });
    const inNs = opts.netnsPath !== undefined;
    const clientPort = inNs ? 2379 : await freePort();
    const peerPort = inNs ? 2380 : await freePort();
    const srv = new EtcdServer(dir, ownsDir, opts.host ?? '127.0.0.1', clientPort, peerPort, opts);
    await srv.launch();
    return srv;
  }

  private async launch(): Promise<void> {
    const name = this.opts.name ?? 'default';
    const peer = `http://${this.host}:${this.peerPort}`;
    const args = [
      '--name', name,
      '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', this.endpoint,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${name}=${peer}`,
      '--log-level', 'warn',
      ...(this.opts.tls ? ['--cert-file', this.opts.tls.cert, '--key-file', this.opts.tls.key, '--client-cert-auth', '--trusted-ca-file', this.opts.tls.ca] : []),
      ...(this.opts.extraArgs ?? []),
    ];
    const argv = this.opts.netnsPath ? ['nsenter', `--net=${this.opts.netnsPath}`, '--', 'etcd', ...args] : ['etcd', ...args];
    const log = createWriteStream(join(this.dir, 'etcd.log'), { flags: 'a' });
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await this.waitHealthy(15_000);
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 300 && Date.now() < deadline; i++) {
      if (this.proc?.exitCode !== null && this.proc?.exitCode !== undefined) break;
      try {
        const r = await this.ctl(['endpoint', 'health'], 2_000);
        if (r.includes('is healthy')) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd at ${this.endpoint} did not become healthy (log: ${join(this.dir, 'etcd.log')})`);
  }

  /** Runs etcdctl (API v3) against this server, from inside its namespace when it has one. */
  async ctl(args: readonly string[], timeoutMs = 10_000): Promise<string> {
    const t = this.opts.tls;
    const base = ['etcdctl', `--endpoints=${this.endpoint}`, ...(t ? [`--cacert=${t.ca}`, `--cert=${t.cert}`, `--key=${t.key}`] : []), ...args];
    const argv = this.opts.netnsPath ? ['nsenter', `--net=${this.opts.netnsPath}`, '--', ...base] : base;
    const { stdout, stderr } = await run(argv[0]!, argv.slice(1), {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout + stderr;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
    if (!done) {
      p.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Stops and starts again on the same data dir and ports. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}
