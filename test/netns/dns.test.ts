// The seed's `nslookup webapp` from a pod: a lab host with flanneld, dockerd and a kubelet on the API
// (`--cluster-dns` = kube-dns, `--cluster-domain=k8s.cluster`); kube-apiserver and kube-dns (both from
// dist/) run in the host's namespace, and kube-dns's upstream is a dnsmasq the test runs there too
// (named in a resolv.conf the test wrote). busybox's own nslookup in the pod finds a service by its
// short name (the pod's search list), a headless service, a pod name and an outside name.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';

const KUBECTL = path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl');
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const KUBE_DNS = path.join(REPO, 'dist', 'dns', 'main.js');
const DNSMASQ = '/usr/sbin/dnsmasq';
/** Host a's underlay address (the lab gives host N .10+N). */
const A_IP = '192.0.2.11';
const DOMAIN = 'k8s.cluster';

describe.skipIf(!existsSync(KUBECTL) || !existsSync(DNSMASQ))('cluster DNS: nslookup from a pod through kube-dns', () => {
  let k: KubeLab;
  const procs: Proc[] = [];
  let dir: string;
  let kubeconfig: string;
  let hostA: Host;
  let dnsLog = (): string => '';

  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await hostA.exec([KUBECTL, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(dir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: dir }, ...(input !== undefined && { input }) });
    return r.stdout;
  };
  const nslookup = async (name: string): Promise<string> => {
    const r = await k.execIn('a', 'busybox', 'c', ['nslookup', name], 20_000);
    return r.stdout + r.stderr;
  };

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a'],
      kubeletArgs: [...FAST_FLAGS, `--cluster-dns=${A_IP}`, `--cluster-domain=${DOMAIN}`],
      beforeKubelets: async (kl) => {
        const a = kl.lab.host('a');
        hostA = a;
        if (a.ip !== A_IP) throw new Error(`host a is ${a.ip}, not ${A_IP}`);
        dir = path.join(a.dir, 'dns');
        kubeconfig = path.join(dir, 'admin.kubeconfig');
        await mkdir(dir, { recursive: true });
        procs.push(
          a.spawn([process.execPath, APISERVER, `--etcd-servers=${kl.etcd.endpoint}`, `--bind-address=${a.ip}`, `--advertise-address=${a.ip}`, '--secure-port=6443', `--cert-dir=${path.join(dir, 'certs')}`, `--write-kubeconfig=${kubeconfig}`, '--disable-admission-plugins=ServiceAccount'], { logFile: path.join(dir, 'apiserver.log') }),
        );
        await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(['get', '--raw=/readyz']).catch(() => '')).trim() === 'ok', 30_000, 250);
        // The lab's outside world: a dnsmasq on another port of the same address.
        await writeFile(path.join(dir, 'outside.hosts'), '198.18.0.7 outside.test\n');
        procs.push(a.spawn([DNSMASQ, '--no-daemon', '--no-resolv', '--no-hosts', `--addn-hosts=${path.join(dir, 'outside.hosts')}`, `--listen-address=${a.ip}`, '--bind-interfaces', '--port=5353', '--user=root', '--pid-file='], { logFile: path.join(dir, 'dnsmasq.log') }));
        await writeFile(path.join(dir, 'resolv.conf'), `nameserver ${a.ip}:5353\n`);
        const dns = a.spawn([process.execPath, KUBE_DNS, `--kubeconfig=${kubeconfig}`, `--domain=${DOMAIN}`, `--dns-bind-address=${a.ip}`, '--dns-port=53', `--resolv-conf=${path.join(dir, 'resolv.conf')}`, '--healthz-port=0'], { logFile: path.join(dir, 'kube-dns.log') });
        procs.push(dns);
        dnsLog = () => dns.stderr() + dns.stdout();
      },
      storeArgs: () => [`--kubeconfig=${kubeconfig}`],
    });
  }, 120_000);

  afterAll(async () => {
    await k?.destroy();
    await Promise.allSettled(procs.map((p) => p.stop(5_000)));
  }, 60_000);

  it('a pod with the default dnsPolicy finds a service by its short name, a headless one, a pod name and an outside name', async () => {
    const yaml = [
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: webapp}',
      'spec: {ports: [{port: 80, name: http}]}',
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: db}',
      'spec: {clusterIP: None, ports: [{port: 5432, name: pg}]}',
      '---',
      'apiVersion: v1',
      'kind: Endpoints',
      'metadata: {name: db}',
      'subsets: [{addresses: [{ip: 10.5.9.4, hostname: db-0}], ports: [{port: 5432, name: pg}]}]',
      '---',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: busybox}',
      'spec:',
      '  nodeName: a',
      '  terminationGracePeriodSeconds: 1',
      `  containers: [{name: c, image: "${BUSYBOX_IMAGE}", imagePullPolicy: Never, command: [sleep, "3600"]}]`,
      '',
    ].join('\n');
    await kubectl(['create', '-f', '-'], yaml);
    const ip = (await kubectl(['get', 'service', 'webapp', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(ip).toMatch(/^10\.254\.\d+\.\d+$/);
    await waitFor('the busybox pod running', async () => (await k.containers('a', 'busybox', 'c')).some((c) => c.state === 'running'), 45_000, 500);
    const resolv = await k.execIn('a', 'busybox', 'c', ['cat', '/etc/resolv.conf']);
    expect(resolv.stdout).toContain(`nameserver ${A_IP}`);
    expect(resolv.stdout).toContain(`search default.svc.${DOMAIN} svc.${DOMAIN} ${DOMAIN}`);
    expect(resolv.stdout).toContain('options ndots:5');

    const out = await waitFor('nslookup webapp answering', async () => {
      const t = await nslookup('webapp').catch(() => '');
      return t.includes(ip) ? t : undefined;
    }, 20_000, 500).catch((e: unknown) => {
      throw new Error(`${String(e)}\nkube-dns: ${dnsLog().slice(-3000)}`);
    });
    expect(out).toMatch(new RegExp(`Name:\\s+webapp\\.default\\.svc\\.${DOMAIN.replace('.', '\\.')}`));
    expect(out).toMatch(new RegExp(`Address:\\s+${ip.replace(/\./g, '\\.')}`));
    expect(await nslookup('db')).toMatch(/Address:\s+10\.5\.9\.4/);
    // A name with a dot is asked as it is (busybox's nslookup searches only dotless names).
    expect(await nslookup(`db-0.db.default.svc.${DOMAIN}`)).toMatch(/Address:\s+10\.5\.9\.4/);
    expect(await nslookup(`10-5-1-3.default.pod.${DOMAIN}`)).toMatch(/Address:\s+10\.5\.1\.3/);
    expect(await nslookup('outside.test')).toMatch(/Address:\s+198\.18\.0\.7/);
    expect(await nslookup(`nothere.default.svc.${DOMAIN}`)).toMatch(/NXDOMAIN/);
  });
});
