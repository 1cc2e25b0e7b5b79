// A pod calls the API as its service account, the way in-cluster clients do: one lab host with flanneld,
// dockerd, kube-apiserver (RBAC, the ServiceAccount admission on) and kube-controller-manager (the
// serviceaccount and root-ca-cert-publisher controllers) in its namespace, a kubelet on the API
// (--kubeconfig) and kube-proxy (--master). The admission mounts kube-api-access-* into the pod; the
// kubelet fills it through the TokenRequest API (token bound to the pod, the CA, the namespace) and
// gives the container KUBERNETES_SERVICE_HOST/PORT; with the token and CA files the kubelet wrote, kubectl
// lists the namespace's pods (allowed by a RoleBinding of the account) and is refused the kube-system
// secrets (403: the API knows who it is), and the token is refused (401) once the pod is deleted.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';
import { startProxy } from './proxy.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const CONTROLLER_MANAGER = path.join(REPO, 'dist', 'controllers', 'main.js');
const SECURE = 6443;
const INSECURE = 8080;
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

describe.skipIf(!existsSync(KUBECTL))('a pod calling the API with its mounted service-account token', () => {
  let k: KubeLab;
  let a: Host;
  let apiserver: Proc | undefined;
  let kcm: Proc | undefined;
  let proxy: Proc | undefined;
  let apiDir: string;
  let kubeconfig: string;
  const kubectl = async (args: readonly string[]): Promise<string> => {
    const r = await a.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir } });
    return r.stdout;
  };

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a'],
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        a = kl.lab.host('a');
        apiDir = path.join(a.dir, 'apiserver');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        apiserver = a.spawn(
          [
            process.execPath,
            APISERVER,
            `--etcd-servers=${kl.etcd.endpoint}`,
            `--bind-address=${a.ip}`,
            `--advertise-address=${a.ip}`,
            `--secure-port=${SECURE}`,
            `--cert-dir=${path.join(apiDir, 'certs')}`,
            `--write-kubeconfig=${kubeconfig}`,
            `--insecure-port=${INSECURE}`,
            `--insecure-bind-address=${a.ip}`,
            '--authorization-mode=RBAC',
          ],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ok = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ok) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}${apiserver.stdout()}`.slice(0, 4000));
        kcm = a.spawn([process.execPath, CONTROLLER_MANAGER, `--kubeconfig=${kubeconfig}`, '--secure-port=0', '--leader-elect=false', '--controllers=serviceaccount,root-ca-cert-publisher'], { logFile: path.join(apiDir, 'kcm.log') });
      },
      storeArgs: () => [`--kubeconfig=${kubeconfig}`],
    });
    proxy = startProxy(a, k.etcd, { tag: 'api', storeArgs: [`--master=http://${a.ip}:${INSECURE}`], args: ['--cluster-cidr=10.5.0.0/16', '--leader-elect-lease-duration=3s'] });
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop(5_000);
    await k?.destroy();
    await kcm?.stop(5_000);
    await apiserver?.stop(5_000);
  }, 60_000);

  it('the pod gets a token bound to it, the CA, the namespace and the kubernetes Service env; the token lists its pods, is refused what RBAC does not grant, and dies with the pod', async () => {
    await waitFor('the default account and kube-root-ca.crt', async () => (await kubectl(['get', 'serviceaccount/default', 'configmap/kube-root-ca.crt', '-o', 'name']).catch(() => '')).split('\n').filter(Boolean).length === 2, 20_000, 250);
    const rb = path.join(apiDir, 'view.yaml');
    await writeFile(rb, 'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: default-view\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n- kind: ServiceAccount\n  name: default\n  namespace: default\n');
    await kubectl(['apply', '-f', rb]);
    const pod = path.join(apiDir, 'caller.yaml');
    await writeFile(pod, ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: caller', 'spec:', '  nodeName: a', '  terminationGracePeriodSeconds: 1', '  containers:', '  - name: c', `    image: ${BUSYBOX_IMAGE}`, '    imagePullPolicy: Never', '    command: ["sleep", "3600"]', ''].join('\n'));
    expect(await kubectl(['create', '-f', pod])).toMatch(/pod\/caller created/);
    await waitFor('caller Running', async () => /\sRunning\s/.test(await kubectl(['get', 'pod', 'caller'])), 45_000, 500).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await kubectl(['get', 'pod', 'caller', '-o', 'yaml'])}\n${[...k.nodes.values()].map((n) => n.kubelet.stderr().slice(-2000)).join('\n')}`);
    });

    const sh = async (cmd: string) => k.execIn('a', 'caller', 'c', ['sh', '-c', cmd], 20_000);
    const files = await sh(`cat ${SA_DIR}/namespace; echo; head -1 ${SA_DIR}/ca.crt; echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`);
    expect(files.code, files.stderr).toBe(0);
    const [ns, caLine, hostPort] = files.stdout.trim().split('\n');
    expect(ns).toBe('default');
    expect(caLine).toBe('-----BEGIN CERTIFICATE-----');
    expect(hostPort).toBe('10.254.0.1:443');
    // The token the kubelet wrote is bound to this pod.
    const token = (await sh(`cat ${SA_DIR}/token`)).stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; 'kubernetes.io': { pod: { name: string } } };
    expect(claims.sub).toBe('system:serviceaccount:default:default');
    expect(claims['kubernetes.io'].pod.name).toBe('caller');
    // On the node: the projected volume directory, written atomically through ..data.
    const podUid = (await kubectl(['get', 'pod', 'caller', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const projected = path.join(k.node('a').rootDir, 'pods', podUid, 'volumes', 'kubernetes.io~projected');
    const [vol] = await readdir(projected);
    expect(vol).toMatch(/^kube-api-access-[a-z0-9]{5}$/);
    expect((await readFile(path.join(projected, vol!, 'token'), 'utf8')).trim()).toBe(token);

    // busybox's wget cannot finish a TLS handshake with this apiserver (its ssl_client and Node's TLS agree
    // on no cipher suite: alert 40), so the call is made from the host's namespace instead, with the token
    // and CA files the kubelet wrote into the pod's volume, as an in-cluster client would use them.
    const saKubeconfig = path.join(apiDir, 'sa.kubeconfig');
    const volDir = path.join(projected, vol!);
    await writeFile(saKubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: ${path.join(volDir, 'ca.crt')}\n    server: https://${a.ip}:${SECURE}\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n    namespace: default\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user:\n    tokenFile: ${path.join(volDir, 'token')}\n`);
    const asPod = (args: readonly string[]) => a.exec([KUBECTL, `--kubeconfig=${saKubeconfig}`, `--cache-dir=${path.join(apiDir, 'sa-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir } });
    const list = await asPod(['get', 'pods', '-o', 'name']);
    expect(list.stdout, list.stderr).toContain('pod/caller');
    const secrets = await asPod(['get', 'secrets', '-n', 'kube-system']);
    expect(secrets.stderr).toMatch(/secrets is forbidden: User "system:serviceaccount:default:default" cannot list resource "secrets" in API group "" in the namespace "kube-system"/);
    // Without its account's binding the same token is refused the pods (403), and allowed again with it.
    expect(await kubectl(['delete', 'rolebinding', 'default-view'])).toMatch(/deleted/);
    const unbound = await waitFor('the pods refused without the binding', async () => {
      const r = await asPod(['get', 'pods', '-o', 'name']);
      return /pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods"/.test(r.stderr) ? r.stderr : undefined;
    }, 15_000, 500);
    expect(unbound).toMatch(/in the namespace "default"/);
    await kubectl(['create', '-f', rb]);
    await waitFor('the pods listed again with the binding', async () => ((await asPod(['get', 'pods', '-o', 'name'])).stdout.includes('pod/caller') ? true : undefined), 15_000, 500);
    // Once the pod is gone its token is refused (401), though a copy of it is kept.
    const saved = path.join(apiDir, 'saved-token');
    await writeFile(saved, token);
    await writeFile(path.join(apiDir, 'saved-ca.crt'), await readFile(path.join(volDir, 'ca.crt')));
    await writeFile(saKubeconfig, (await readFile(saKubeconfig, 'utf8')).replace(path.join(volDir, 'token'), saved).replace(path.join(volDir, 'ca.crt'), path.join(apiDir, 'saved-ca.crt')));
    expect(await kubectl(['delete', 'pod', 'caller', '--timeout=25s'])).toMatch(/pod "caller" deleted/);
    let last = '';
    const after = await waitFor('the token refused', async () => {
      const r = await asPod(['get', 'pods']);
      last = `${r.stdout}${r.stderr}`;
      return /Unauthorized|must be logged in/.test(r.stderr) ? r.stderr : undefined;
    }, 20_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}; kubectl said: ${last}`);
    });
    expect(after).toMatch(/Unauthorized|must be logged in/);
  }, 150_000);
});
