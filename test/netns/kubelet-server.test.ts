// kubectl logs, exec and port-forward through the apiserver to the kubelet's HTTPS server, with both kubectl
// versions (Debian's 1.20 speaks SPDY/3.1 only; 1.33 tries WebSocket first): one lab host with flanneld,
// dockerd and a kubelet on the API (its node's identity, --client-ca-file the apiserver's CA, Webhook
// authorization), the kube-apiserver in the same host's namespace under Node,RBAC presenting
// --kubelet-client-certificate (user kube-apiserver-kubelet-client, bound to system:kubelet-api-admin), and
// kubectl in that namespace too, as the other API labs run it. Anonymous requests to the kubelet get 401.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa, ensureUserClient } from '../../apiserver/index.js';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';

const KUBECTLS = [
  { name: 'kubectl 1.20', bin: path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl') },
  { name: 'kubectl 1.33', bin: '/usr/lib/google-cloud-sdk/bin/kubectl.1.33' },
].filter((k) => existsSync(k.bin));
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const SECURE = 6443;

const podYaml = (name: string, cmd: string): string =>
  [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  nodeName: a',
    '  terminationGracePeriodSeconds: 1',
    '  containers:',
    '  - name: c',
    `    image: ${BUSYBOX_IMAGE}`,
    '    imagePullPolicy: Never',
    `    command: ["sh", "-c", ${JSON.stringify(cmd)}]`,
    '',
  ].join('\n');

// An HTTPS GET from the host's namespace, printing the status and body (the kubelet's certificate is self-signed).
const HTTPS_GET = `require('node:https').get(process.argv[1], { rejectUnauthorized: false }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => console.log(r.statusCode + ' ' + b)); }).on('error', (e) => { console.log('error ' + e.message); });`;
const HTTP_GET = `fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.log('error ' + e.message); process.exit(1); });`;

describe.skipIf(KUBECTLS.length === 0)('kubectl logs, exec and port-forward through the kubelet server', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let apiDir: string;
  let certDir: string;
  let kubeconfig: string;
  let hostA: Host;
  let kubeletConfig = '';

  const kubectl = async (bin: string, args: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    hostA.exec([bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir }, ...(input !== undefined && { input }) });
  const ok = async (bin: string, args: readonly string[], input?: string): Promise<string> => {
    const r = await kubectl(bin, args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${String(r.code)}: ${r.stderr}`);
    return r.stdout;
  };
  const main = (): string => KUBECTLS[0]!.bin;

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a'],
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        hostA = kl.lab.host('a');
        apiDir = path.join(hostA.dir, 'apiserver');
        certDir = path.join(apiDir, 'certs');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        // The CA first: the apiserver's client certificate for the kubelets is signed by it before it starts.
        const ca = await ensureCa(certDir);
        const client = await ensureUserClient(certDir, ca, 'kube-apiserver-kubelet-client', []);
        // Bearer tokens for the kubelet's TokenReview: a user with no rights there, and an administrator.
        await writeFile(path.join(apiDir, 'tokens.csv'), 'nobody-token,nobody,1001\nadmin-token,token-admin,1002,system:masters\n');
        apiserver = hostA.spawn(
          [
            process.execPath,
            APISERVER,
            `--etcd-servers=${kl.etcd.endpoint}`,
            `--bind-address=${hostA.ip}`,
            `--advertise-address=${hostA.ip}`,
            `--secure-port=${SECURE}`,
            `--cert-dir=${certDir}`,
            `--write-kubeconfig=${kubeconfig}`,
            `--kubelet-client-certificate=${client.cert}`,
            `--kubelet-client-key=${client.key}`,
            `--token-auth-file=${path.join(apiDir, 'tokens.csv')}`,
            // No controller manager here to make the default ServiceAccounts.
            '--disable-admission-plugins=ServiceAccount',
            ...SECURE_APISERVER_ARGS,
          ],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ready = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await ok(main(), ['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ready) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}${apiserver.stdout()}`.slice(0, 4000));
        // Before any kubelet asks a SubjectAccessReview (a denial would be cached for 30 s).
        await ok(main(), ['create', 'clusterrolebinding', 'kube-apiserver-kubelet', '--clusterrole=system:kubelet-api-admin', '--user=kube-apiserver-kubelet-client']);
        kubeletConfig = await writeDaemonKubeconfig(certDir, `https://${hostA.ip}:${SECURE}`, apiDir, 'kubelet', 'a');
      },
      storeArgs: () => [`--kubeconfig=${kubeletConfig}`, `--client-ca-file=${path.join(certDir, 'ca.crt')}`],
    });
    await writeFile(path.join(apiDir, 'pods.yaml'), [
      podYaml('hello', 'echo line-1; echo line-2; echo err-1 >&2; exec sleep 3600'),
      podYaml('ticker', 'i=0; while :; do i=$((i+1)); echo tick-$i; sleep 1; done'),
      podYaml('web', 'mkdir -p /www && echo hello-through-port-forward > /www/index.html && exec httpd -f -p 80 -h /www'),
    ].join('---\n'));
    await ok(main(), ['create', '-f', path.join(apiDir, 'pods.yaml')]);
    await waitFor('the pods Running', async () => {
      const t = await ok(main(), ['get', 'pods', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}']);
      return ['hello', 'ticker', 'web'].every((p) => t.includes(`${p}=Running`));
    }, 60_000, 500);
  }, 150_000);

  afterAll(async () => {
    await k?.destroy();
    await apiserver?.stop(5_000);
  }, 60_000);

  it("the Node reports the kubelet's port, and an anonymous request to it is refused with 401", async () => {
    expect((await ok(main(), ['get', 'node', 'a', '-o', 'jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}'])).trim()).toBe('10250');
    const anon = await hostA.run([process.execPath, '-e', HTTPS_GET, `https://${hostA.ip}:10250/pods`]);
    expect(anon.trim()).toBe('401 Unauthorized');
    // A bearer token is reviewed by the apiserver (TokenReview), then the user's rights asked (SubjectAccessReview).
    const get = (token: string): Promise<string> => hostA.run([process.execPath, '-e', HTTPS_GET.replace('{ rejectUnauthorized: false }', `{ rejectUnauthorized: false, headers: { authorization: 'Bearer ${token}' } }`), `https://${hostA.ip}:10250/healthz`]);
    expect((await get('nobody-token')).trim()).toBe('403 Forbidden (user=nobody, verb=get, resource=nodes, subresource(s)=[healthz proxy])');
    expect((await get('admin-token')).trim()).toBe('200 ok');
    expect((await get('not-a-token')).trim()).toBe('401 Unauthorized');
    // The apiserver's way in works: nodes/a/proxy/pods is the kubelet's PodList.
    const list = JSON.parse(await ok(main(), ['get', '--raw=/api/v1/nodes/a/proxy/pods'])) as { kind: string; items: { metadata: { name: string } }[] };
    expect(list.kind).toBe('PodList');
    expect(list.items.map((p) => p.metadata.name).sort()).toEqual(['hello', 'ticker', 'web']);
  });

  for (const kc of KUBECTLS) {
    describe(kc.name, () => {
      it('kubectl logs shows stdout and stderr, --tail the last lines, --timestamps a time on each, --previous the kubelet\'s refusal', async () => {
        const out = await waitFor('hello\'s logs', async () => {
          const t = await ok(kc.bin, ['logs', 'hello']);
          return t.includes('err-1') ? t : undefined;
        }, 15_000, 500);
        expect(out.split('\n').filter(Boolean).sort()).toEqual(['err-1', 'line-1', 'line-2']);
        expect(await ok(kc.bin, ['logs', 'hello', '-c', 'c', '--tail=1'])).toMatch(/^(err-1|line-2)\n$/);
        const stamped = (await ok(kc.bin, ['logs', 'hello', '--timestamps'])).split('\n').filter(Boolean);
        for (const l of stamped) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (line-1|line-2|err-1)$/);
        const prev = await kubectl(kc.bin, ['logs', 'hello', '--previous']);
        expect(prev.code).not.toBe(0);
        expect(prev.stderr).toContain('previous terminated container "c" in pod "hello" not found');
      });

      it('kubectl logs -f follows: a line written after it started reaches it', async () => {
        const last = Math.max(...(await ok(kc.bin, ['logs', 'ticker', '--tail=1'])).match(/tick-(\d+)/g)!.map((s) => Number(s.slice(5))));
        const follower = hostA.spawn([kc.bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, 'logs', '-f', 'ticker', '--tail=1'], { logFile: path.join(apiDir, `follow-${kc.name.replace(/\W+/g, '-')}.log`), env: { PATH: process.env.PATH ?? '', HOME: apiDir } });
        try {
          await follower.waitForOutput(new RegExp(`tick-(${last + 2}|${last + 3}|${last + 4}|${last + 5})\\b`), 20_000, 'out');
        } finally {
          await follower.stop(5_000);
        }
      });

      it('kubectl exec runs a command: its output, a non-zero exit code, stdin through -i', async () => {
        expect(await ok(kc.bin, ['exec', 'hello', '--', 'echo', 'hi from exec'])).toBe('hi from exec\n');
        const failed = await kubectl(kc.bin, ['exec', 'hello', '--', 'sh', '-c', 'echo to-stderr >&2; exit 3']);
        expect(failed.code).toBe(3);
        expect(failed.stderr).toContain('to-stderr');
        expect(failed.stderr).toContain('command terminated with exit code 3');
        expect(await ok(kc.bin, ['exec', '-i', 'hello', '--', 'sh', '-c', 'tr a-z A-Z'], 'piped through stdin\n')).toBe('PIPED THROUGH STDIN\n');
      });

      it("kubectl attach shows the running container's output as it comes", async () => {
        const attach = hostA.spawn([kc.bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, 'attach', 'ticker', '-c', 'c'], { logFile: path.join(apiDir, `attach-${kc.name.replace(/\W+/g, '-')}.log`), env: { PATH: process.env.PATH ?? '', HOME: apiDir } });
        try {
          await attach.waitForOutput(/tick-\d+\n.*tick-\d+/s, 20_000, 'out');
        } finally {
          await attach.stop(5_000);
        }
      });

      it('kubectl port-forward pod/web <local>:80 carries an HTTP GET from the host to the pod', async () => {
        const local = kc.name.endsWith('1.20') ? 18080 : 18081;
        const fwd = hostA.spawn([kc.bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, 'port-forward', 'pod/web', `${local}:80`], { logFile: path.join(apiDir, `port-forward-${local}.log`), env: { PATH: process.env.PATH ?? '', HOME: apiDir } });
        try {
          await fwd.waitForOutput(new RegExp(`Forwarding from 127\\.0\\.0\\.1:${local}`), 20_000, 'out');
          for (let i = 0; i < 2; i++) expect(await hostA.run([process.execPath, '-e', HTTP_GET, `http://127.0.0.1:${local}/`], { timeoutMs: 20_000 })).toBe('hello-through-port-forward\n');
        } finally {
          await fwd.stop(5_000);
        }
      });
    });
  }
});
