// kube-apiserver against the official Python client: Debian's python3-kubernetes (scripts/setup installs
// it), run by Debian's /usr/bin/python3 (not whatever python3 is first on PATH). One etcd and one
// apiserver for the file. test/fixtures/kube-python-client.py loads the test's admin kubeconfig, lists
// pods, creates one, and watches from the list's resourceVersion while this test creates, patches and
// deletes a pod of its own; each step prints a JSON line that is checked here.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, EtcdServer } from '../harness/index.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.resolve(import.meta.dirname, '../fixtures/kube-python-client.py');

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apipy-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir);
});

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Line = Record<string, unknown> & { step: string };

interface ClientRun {
  readonly lines: Line[];
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs the script; `onLine` may act on a line (awaited in order). Bounded by `timeoutMs` (then SIGKILL). */
function runClient(args: readonly string[], onLine: (l: Line) => Promise<void> = async () => undefined, timeoutMs = 30_000): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', HOME: dir } });
    const lines: Line[] = [];
    let buf = '';
    let stderr = '';
    let chain = Promise.resolve();
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let l: Line;
        try {
          l = JSON.parse(text) as Line;
        } catch {
          l = { step: 'unparsed', text };
        }
        lines.push(l);
        chain = chain.then(() => onLine(l));
      }
    });
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      chain.then(() => resolve({ lines, code, stderr }), reject);
    });
  });
}

const describeRun = (r: ClientRun): string => `exit ${r.code}\n${r.lines.map((l) => JSON.stringify(l)).join('\n')}\n${r.stderr}`;

async function makeNamespace(name: string): Promise<void> {
  const r = await srv.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  expect(r.status, r.text).toBe(201);
}

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { 'made-by': 'test' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });

describe('the official Python client (python3-kubernetes)', () => {
  it('is installed as Debian packages it (scripts/setup installs python3-kubernetes)', () => {
    expect(existsSync(PYTHON), `${PYTHON} is missing`).toBe(true);
    expect(existsSync('/usr/lib/python3/dist-packages/kubernetes/__init__.py'), 'python3-kubernetes is not installed: run scripts/setup').toBe(true);
  });

  /** The scenario of the file's comment in namespace `ns`; returns the run and a description for failures. */
  async function watchScenario(ns: string, mode: 'as-sent' | 'watch-lowercase'): Promise<{ run: ClientRun; why: string }> {
    await makeNamespace(ns);
    // A pod that exists before the list: it must be listed and must not come again as a watch event.
    expect((await srv.request('POST', `/api/v1/namespaces/${ns}/pods`, pod('before'))).status).toBe(201);
    const run = await runClient([srv.kubeconfig, ns, '20', 'ts-made', mode], async (l) => {
      if (l.step !== 'watching') return;
      // While the client's watch is open (or about to open: it starts at the list's resourceVersion,
      // so nothing made from here on can be missed).
      const base = `/api/v1/namespaces/${ns}/pods`;
      expect((await srv.request('POST', base, pod('ts-made'))).status).toBe(201);
      const patched = await srv.request('PATCH', `${base}/ts-made`, { metadata: { labels: { step: 'patched' } } }, srv.admin, { 'Content-Type': 'application/merge-patch+json' });
      expect(patched.status, patched.text).toBe(200);
      expect((await srv.request('DELETE', `${base}/ts-made`)).status).toBe(200);
    });
    return { run, why: describeRun(run) };
  }

  function expectEvents(run: ClientRun, why: string): void {
    expect(run.code, why).toBe(0);
    const events = run.lines.filter((l) => l.step === 'event').map((l) => `${String(l.type)} ${String(l.name)}`);
    expect(events, why).toEqual(['ADDED py-made', 'ADDED ts-made', 'MODIFIED ts-made', 'DELETED ts-made']);
    const modified = run.lines.find((l) => l.step === 'event' && l.type === 'MODIFIED');
    expect(modified?.labels, why).toEqual({ 'made-by': 'test', step: 'patched' });
    // resourceVersions rise along the stream.
    const rvs = run.lines.filter((l) => l.step === 'event').map((l) => Number(l.resourceVersion));
    expect([...rvs].sort((a, b) => a - b), why).toEqual(rvs);
    expect(run.lines.at(-1)?.step, why).toBe('done');
  }

  it('lists and creates pods, and decodes the watch events ADDED, MODIFIED, DELETED from the list resourceVersion', async () => {
    const { run, why } = await watchScenario('py-watch', 'watch-lowercase');
    const list = run.lines.find((l) => l.step === 'list_namespaced_pod');
    expect(list, why).toMatchObject({ kind: 'PodList', names: ['before'] });
    expect(Number(list?.resourceVersion)).toBeGreaterThan(0);
    const made = run.lines.find((l) => l.step === 'create_namespaced_pod');
    // The defaults Kubernetes fills in, as the client decoded them.
    expect(made, why).toMatchObject({ name: 'py-made', restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', imagePullPolicy: 'IfNotPresent' });
    expect(String(made?.uid)).toMatch(/^[0-9a-f-]{36}$/);
    expectEvents(run, why);
  });

  // watch.Watch().stream() sends `watch=True` (urllib3 writes Python's bool so); kube-apiserver reads it with
  // Go's strconv.ParseBool, and so must we, or the client gets a PodList and no event.
  it('watches with watch.Watch().stream as the client sends it (watch=True)', async () => {
    const { run, why } = await watchScenario('py-watch-as-sent', 'as-sent');
    expectEvents(run, why);
  });

  it('ends a watch when the server closes it after timeout_seconds', async () => {
    const ns = 'py-timeout';
    await makeNamespace(ns);
    const t0 = Date.now();
    const run = await runClient([srv.kubeconfig, ns, '2', 'never-made', 'watch-lowercase'], undefined, 20_000);
    const took = Date.now() - t0;
    const why = describeRun(run);
    expect(run.code, why).toBe(0);
    expect(run.lines.filter((l) => l.step === 'event').map((l) => `${String(l.type)} ${String(l.name)}`), why).toEqual(['ADDED py-made']);
    expect(run.lines.at(-1)?.step, why).toBe('done');
    // The server's timeoutSeconds=2 closed the stream: not the test's 20 s limit.
    expect(took, why).toBeLessThan(15_000);
  });
});
