// `kubectl exec POD -- true`, the whole round trip (kubectl → kube-apiserver → the kubelet's 10250 → Docker's
// exec → the exit code back in the error stream's Status), beside `docker exec <the same container> true` on
// the same dockerd in the same run, each a fresh CLI process as a user would type it, alternated so that both
// see the same load. One lab host (its own network namespace) with flanneld, dockerd and a kubelet on the API;
// kube-apiserver in the same namespace presenting --kubelet-client-certificate (bound to kubelet-api-admin),
// the kubelet trusting its CA, as test/netns/kubelet-server.test.ts runs them. Target: under 2x docker exec.
// Beside them, `kubectl get pod POD` (the CLI's own start and one API call: the part of the round trip that is
// kubectl's, whatever the server does). EXEC_BENCH_TRACE=<dir>: the apiserver and the kubelet log at debug
// level (their per-hop durations: auth, pod and node lookups, the dial to the kubelet, Docker's create, start,
// output and exit code), each kubectl runs 5 more times with -v=6 (its request timings), and the logs are
// copied into <dir> before the lab goes. EXEC_BENCH_CPU_PROF=<dir>: the apiserver and the kubelet run under
// node --cpu-prof, their profiles written into <dir> when they stop.
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FlannelError } from '../../common/index.js';
import { KUBELET_CLIENT_BINDING, kubeletClientCredentials, SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';
import { BUSYBOX_IMAGE, FAST_FLAGS, type Host, KubeLab, type Proc, REPO, waitFor } from '../netns/index.js';
import { cpuMs, nodePid } from './procstat.js';
import { type BenchResult, percentile } from './stats.js';

export class ExecBenchError extends FlannelError {
  readonly code = 'BENCH_EXEC';
}

const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const SECURE = 6443;
const KUBECTLS = [
  { name: 'kubectl 1.20 (SPDY)', bin: path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl') },
  { name: 'kubectl 1.33 (WebSocket)', bin: '/usr/lib/google-cloud-sdk/bin/kubectl.1.33' },
].filter((k) => existsSync(k.bin));

const TRACE = process.env.EXEC_BENCH_TRACE;
const LOG_LEVEL = TRACE ? ['--log-level=debug'] : [];
const PROF = process.env.EXEC_BENCH_CPU_PROF;
const PROF_ARGS = PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [];

const POD = ['apiVersion: v1', 'kind: Pod', 'metadata: {name: bench-exec}', 'spec:', '  nodeName: a', '  terminationGracePeriodSeconds: 1', `  containers: [{name: c, image: "${BUSYBOX_IMAGE}", imagePullPolicy: Never, command: [sleep, "3600"]}]`, ''].join('\n');

/** One timed run of argv in the host's namespace; throws unless it exits 0. */
async function timed(host: Host, argv: readonly string[], env: Record<string, string>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await host.exec(argv, { timeoutMs: 30_000, env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new ExecBenchError(`${argv.slice(0, 3).join(' ')} …: exit ${String(r.code)}: ${r.stderr.slice(0, 300)}`);
  return ms;
}

export async function benchExec(runs = 30): Promise<BenchResult[]> {
  if (KUBECTLS.length === 0) throw new ExecBenchError('no kubectl: scripts/setup unpacks kubectl 1.20 into .cache/kubernetes-client');
  let apiserver: Proc | undefined;
  let host!: Host;
  let apiDir = '';
  let kubeconfig = '';
  let kubeletConfig = '';
  let clientCaFile = '';
  const env = (): Record<string, string> => ({ PATH: process.env.PATH ?? '', HOME: apiDir });
  const kubectlArgv = (bin: string, args: readonly string[]): string[] => [bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args];
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await host.exec(kubectlArgv(KUBECTLS[0]!.bin, args), { timeoutMs: 30_000, env: env(), ...(input !== undefined && { input }) });
    if (r.code !== 0) throw new ExecBenchError(`kubectl ${args.join(' ')}: exit ${String(r.code)}: ${r.stderr.slice(0, 500)}`);
    return r.stdout;
  };
  const k = await KubeLab.start({
    hosts: ['a'],
    kubeletArgs: [...FAST_FLAGS, ...LOG_LEVEL],
    kubeletNodeArgs: PROF_ARGS,
    beforeKubelets: async (kl) => {
      host = kl.lab.host('a');
      apiDir = path.join(host.dir, 'apiserver');
      const certDir = path.join(apiDir, 'certs');
      kubeconfig = path.join(apiDir, 'admin.kubeconfig');
      await mkdir(apiDir, { recursive: true });
      const creds = await kubeletClientCredentials(certDir);
      clientCaFile = creds.clientCaFile;
      apiserver = host.spawn(
        [
          process.execPath,
          ...PROF_ARGS,
          APISERVER,
          `--etcd-servers=${kl.etcd.endpoint}`,
          `--bind-address=${host.ip}`,
          `--advertise-address=${host.ip}`,
          `--secure-port=${SECURE}`,
          `--cert-dir=${certDir}`,
          `--write-kubeconfig=${kubeconfig}`,
          ...creds.apiserverArgs,
          // No controller manager here to make the default ServiceAccounts.
          '--disable-admission-plugins=ServiceAccount',
          ...SECURE_APISERVER_ARGS,
          ...LOG_LEVEL,
        ],
        { logFile: path.join(apiDir, 'apiserver.log') },
      );
      await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch(() => '')).trim() === 'ok', 30_000, 250);
      await kubectl(KUBELET_CLIENT_BINDING);
      kubeletConfig = await writeDaemonKubeconfig(certDir, `https://${host.ip}:${SECURE}`, apiDir, 'kubelet', 'a');
    },
    storeArgs: () => [`--kubeconfig=${kubeletConfig}`, `--client-ca-file=${clientCaFile}`],
  });
  try {
    await kubectl(['create', '-f', '-'], POD);
    await waitFor('the bench pod Running', async () => (await kubectl(['get', 'pod', 'bench-exec', '-o', 'jsonpath={.status.phase}'])).trim() === 'Running', 60_000, 250);
    const [c] = await k.containers('a', 'bench-exec', 'c');
    if (!c) throw new ExecBenchError('no container of the bench pod in Docker');
    const d = k.node('a').dockerd;
    const docker = (): Promise<number> => timed(host, ['docker', '-H', `unix://${d.socket}`, 'exec', c.id, 'true'], { ...env(), DOCKER_CONFIG: path.join(d.dir, 'cli'), DOCKER_CLI_HINTS: 'false' });
    const kube = (bin: string): Promise<number> => timed(host, kubectlArgv(bin, ['exec', 'bench-exec', '--', 'true']), env());
    const trace = async (dir: string): Promise<void> => {
      await mkdir(dir, { recursive: true });
      // Both hops' packets (kubectl → the apiserver, the apiserver → the kubelet), timestamped: where each round trip goes.
      const pcap = path.join(dir, 'hops.pcap');
      const dump = host.spawn(['tcpdump', '-i', 'any', '-n', '-U', '-w', pcap, `tcp port ${SECURE} or tcp port 10250`], { logFile: path.join(dir, 'tcpdump.log') });
      await new Promise((r) => setTimeout(r, 500));
      for (const kc of KUBECTLS) {
        for (let i = 0; i < 5; i++) {
          const t0 = Date.now();
          const r = await host.exec(kubectlArgv(kc.bin, ['-v=6', 'exec', 'bench-exec', '--', 'true']), { timeoutMs: 30_000, env: env() });
          const t1 = Date.now();
          await writeFile(path.join(dir, `${path.basename(kc.bin)}-${i}.txt`), `start ${new Date(t0).toISOString()} end ${new Date(t1).toISOString()} ms ${t1 - t0} exit ${String(r.code)}\n${r.stderr}`);
        }
      }
      await dump.stop(3_000);
      const logs = (await readdir(host.dir, { recursive: true })).filter((f) => f.endsWith('.log') && !f.startsWith('dk/'));
      for (const f of logs) await cp(path.join(host.dir, f), path.join(dir, f.replaceAll('/', '_')));
    };
    const get = (bin: string): Promise<number> => timed(host, kubectlArgv(bin, ['get', 'pod', 'bench-exec', '-o', 'name']), env());
    // Warm-up (excluded): the page cache holds both CLIs, kubectl's discovery cache is written.
    for (let i = 0; i < 3; i++) {
      await docker();
      for (const kc of KUBECTLS) await kube(kc.bin);
    }
    const base: number[] = [];
    const ours = new Map<string, number[]>(KUBECTLS.map((kc) => [kc.name, []]));
    const gets = new Map<string, number[]>(KUBECTLS.map((kc) => [kc.name, []]));
    for (let i = 0; i < runs; i++) {
      base.push(await docker());
      for (const kc of KUBECTLS) {
        ours.get(kc.name)!.push(await kube(kc.bin));
        gets.get(kc.name)!.push(await get(kc.bin));
      }
    }
    // What the round trip costs our daemons in CPU (on a loaded machine, the time they wait for it): the
    // apiserver's and the kubelet's CPU over 10 execs, less theirs over as long idle.
    const daemons = [await nodePid(apiserver!), await nodePid(k.node('a').kubelet)];
    const cpu = async (): Promise<number> => (await Promise.all(daemons.map(cpuMs))).reduce((a, c) => a + c.own, 0);
    const cpuPerExec = new Map<string, number>();
    for (const kc of KUBECTLS) {
      const c0 = await cpu();
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) await kube(kc.bin);
      const c1 = await cpu();
      await new Promise((r) => setTimeout(r, Date.now() - t0));
      const idle = (await cpu()) - c1;
      cpuPerExec.set(kc.name, (c1 - c0 - idle) / 10);
    }
    if (TRACE) await trace(TRACE);
    const p50 = percentile(base, 50);
    const p90 = percentile(base, 90);
    const rows: BenchResult[] = [
      { name: `docker exec <container> true: p50 (${runs} runs)`, value: p50, unit: 'ms', ratio: 1, baseline: 'docker exec p50' },
      { name: 'docker exec <container> true: p90', value: p90, unit: 'ms', ratio: 1, baseline: 'docker exec p90' },
    ];
    for (const [name, xs] of ours) {
      rows.push({ name: `${name} exec POD -- true: p50 (target < 2x)`, value: percentile(xs, 50), unit: 'ms', ratio: percentile(xs, 50) / p50, baseline: 'docker exec p50' });
      rows.push({ name: `${name} exec POD -- true: p90`, value: percentile(xs, 90), unit: 'ms', ratio: percentile(xs, 90) / p90, baseline: 'docker exec p90' });
      rows.push({ name: `${name} exec: apiserver + kubelet CPU per exec (10 runs, less idle)`, value: cpuPerExec.get(name)!, unit: 'ms' });
      rows.push({ name: `${name} get pod POD (its start + one API call): p50`, value: percentile(gets.get(name)!, 50), unit: 'ms', ratio: percentile(gets.get(name)!, 50) / p50, baseline: 'docker exec p50' });
    }
    return rows;
  } finally {
    // Profiles are written as the daemons exit: they stop first, given the time, while etcd is still there.
    if (PROF) await Promise.all([apiserver?.stop(30_000), k.node('a').kubelet.stop(30_000)]);
    await k.destroy();
    await apiserver?.stop(5_000);
  }
}
