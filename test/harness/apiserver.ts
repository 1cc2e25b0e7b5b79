// The built kube-apiserver for tests: started from dist/ on 127.0.0.1 with a free port, its own
// --cert-dir and admin kubeconfig in a temp dir, against a test etcd. Stopped by PID, never by name.
// Also: raw HTTPS requests with the admin certificate (for exact Status bodies), and real kubectl.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './etcd.js';
import { type Daemon, writeDaemonKubeconfig } from './identities.js';

const run = promisify(execFile);
/** The repository root, from test/harness/ or from its build in dist/test/harness/ (the demo and benches run from dist/). */
const REPO = ((): string => {
  let dir = import.meta.dirname;
  for (let i = 0; i < 5 && !existsSync(path.join(dir, 'package.json')); i++) dir = path.dirname(dir);
  return dir;
})();
export const APISERVER_BIN = path.join(REPO, 'dist', 'apiserver', 'main.js');

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

export interface ClientCreds {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
}

export class ApiServerProc {
  private exited: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    readonly dir: string,
    readonly port: number,
  ) {
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }
  get kubeconfig(): string {
    return path.join(this.dir, 'admin.kubeconfig');
  }
  get certDir(): string {
    return path.join(this.dir, 'certs');
  }
  /** The log lines of the requests this apiserver refused with a 403 (its authorizer's), for a lab to check none of its daemons was. */
  async forbiddenRequests(): Promise<string[]> {
    const log = await readFile(path.join(this.dir, `apiserver-${this.port}.log`), 'utf8').catch(() => '');
    return log.split('\n').filter((l) => l.includes('"request forbidden"'));
  }

  /** A kubeconfig for a daemon of the lab, with its own identity (see identities.ts). */
  async kubeconfigOf(daemon: Daemon, node?: string): Promise<string> {
    return writeDaemonKubeconfig(this.certDir, this.url, this.dir, daemon, node);
  }

  get admin(): ClientCreds {
    return { ca: path.join(this.certDir, 'ca.crt'), cert: path.join(this.certDir, 'admin.crt'), key: path.join(this.certDir, 'admin.key') };
  }

  /**
   * Starts the apiserver in `dir` (its certs, kubeconfig and log go there) and waits for /readyz.
   * `nodeArgs` go to node before the program (e.g. `--cpu-prof`, which NODE_OPTIONS refuses).
   */
  static async start(etcdEndpoint: string, dir: string, extraArgs: readonly string[] = [], port?: number, nodeArgs: readonly string[] = []): Promise<ApiServerProc> {
    const p = port ?? (await freePort());
    const args = [
      ...nodeArgs,
      APISERVER_BIN,
      `--etcd-servers=${etcdEndpoint}`,
      `--secure-port=${p}`,
      '--bind-address=127.0.0.1',
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--write-kubeconfig=${path.join(dir, 'admin.kubeconfig')}`,
      ...serviceAccountAdmissionArgs(extraArgs),
      ...extraArgs,
    ];
    const log = createWriteStream(path.join(dir, `apiserver-${p}.log`), { flags: 'a' });
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    const srv = new ApiServerProc(proc, dir, p);
    const deadline = Date.now() + 30_000;
    for (let i = 0; i < 300 && Date.now() < deadline; i++) {
      if (proc.exitCode !== null) break;
      if (existsSync(srv.kubeconfig)) {
        const r = await srv.request('GET', '/readyz', undefined, {}).catch(() => undefined);
        if (r?.status === 200) return srv;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await srv.stop();
    throw new Error(`kube-apiserver on ${p} did not become ready: ${await readFile(path.join(dir, `apiserver-${p}.log`), 'utf8').catch(() => '')}`);
  }

  /** One HTTPS request, with the admin certificate unless `creds` says otherwise; bounded by a timeout. */
  async request(method: string, urlPath: string, body?: unknown, creds: ClientCreds = this.admin, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const read = async (f?: string) => (f ? await readFile(f) : undefined);
    const [ca, cert, key] = await Promise.all([read(creds.ca ?? this.admin.ca), read(creds.cert), read(creds.key)]);
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${this.url}${urlPath}`,
        {
          method,
          ca,
          ...(cert && { cert }),
          ...(key && { key }),
          timeout: 15_000,
          headers: {
            ...(data !== undefined && { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }),
            ...(creds.token && { Authorization: `Bearer ${creds.token}` }),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
    if (!done) {
      p.kill('SIGKILL');
      await this.exited;
    }
  }
}

/**
 * These apiservers run without a kube-controller-manager, so no namespace gets its `default` ServiceAccount
 * and every pod would be refused by the ServiceAccount admission: it is off unless a test names the
 * plugin itself (the service-account tests enable it and run the controllers), or disables plugins itself.
 */
export function serviceAccountAdmissionArgs(extraArgs: readonly string[]): string[] {
  const named = extraArgs.some((a) => a.startsWith('--disable-admission-plugins') || (a.startsWith('--enable-admission-plugins') && a.includes('ServiceAccount')));
  return named ? [] : ['--disable-admission-plugins=ServiceAccount'];
}

/** The kubectl versions to test: Debian's 1.20 from setup's folder, and the machine's 1.27 … 1.33 by path. */
export function kubectlBinaries(): { version: string; path: string; present: boolean }[] {
  const out = [{ version: '1.20', path: path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl') }];
  for (let m = 27; m <= 33; m++) out.push({ version: `1.${m}`, path: `/usr/lib/google-cloud-sdk/bin/kubectl.1.${m}` });
  return out.map((b) => ({ ...b, present: existsSync(b.path) }));
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs kubectl with this kubeconfig and a cache dir of the test's; never the user's ~/.kube. */
export async function kubectl(bin: string, kubeconfig: string, cacheDir: string, args: readonly string[], timeoutMs = 30_000): Promise<KubectlResult> {
  try {
    const r = await run(bin, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${cacheDir}`, ...args], { timeout: timeoutMs, env: { PATH: process.env.PATH ?? '', HOME: cacheDir }, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** A kubeconfig for the server with other credentials (a token, or another certificate). */
export async function writeClientKubeconfig(file: string, server: string, caFile: string, creds: ClientCreds): Promise<void> {
  const user = creds.token ? `    token: ${creds.token}` : `    client-certificate: ${creds.cert}\n    client-key: ${creds.key}`;
  await writeFile(
    file,
    `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: ${caFile}\n    server: ${server}\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user:\n${user}\n`,
  );
}
