// Dual-stack Services through the real kubectl against the built apiserver on a real etcd: with
// --service-cluster-ip-range of a v4 and a v6 range, PreferDualStack and RequireDualStack services get a
// ClusterIP of each family (the primary first, shown by `kubectl get svc`), SingleStack ones and IPv6-first
// ones what they ask for, headless ones none; each address is reserved in etcd and released on delete.
// A single-stack apiserver refuses RequireDualStack with Kubernetes' message.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../common/index.js';
import { ApiServerProc, EtcdServer, kubectl, kubectlBinaries } from '../harness/index.js';

const KUBECTL = kubectlBinaries()
  .filter((b) => b.present)
  .pop();
let dir: string;
let etcd: EtcdServer;
let dual: ApiServerProc;
let single: ApiServerProc;
let client: Etcd3;

const kc = async (srv: ApiServerProc, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> => {
  if (input === undefined) return kubectl(KUBECTL!.path, srv.kubeconfig, path.join(dir, `cache-${srv.port}`), args);
  // kubectl apply -f FILE: the harness's kubectl takes no stdin.
  const f = path.join(dir, `in-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(f, input);
  return kubectl(KUBECTL!.path, srv.kubeconfig, path.join(dir, `cache-${srv.port}`), [...args, '-f', f]);
};
const svc = (name: string, spec: Record<string, unknown>): string => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec } });
interface SvcJson {
  spec: { clusterIP: string; clusterIPs: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string };
}
const get = async (name: string): Promise<SvcJson> => JSON.parse((await kc(dual, ['get', 'service', name, '-o', 'json'])).stdout) as SvcJson;
const reserved = async (): Promise<string[]> => (await client.getAll().prefix('/registry/ranges/serviceips/').keys()).map((k) => k.slice('/registry/ranges/serviceips/'.length));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apids-'));
  etcd = await EtcdServer.start();
  client = createEtcdClient({ endpoints: [etcd.endpoint] });
  // Each apiserver in a folder of its own: its admin kubeconfig is written there.
  await mkdir(path.join(dir, 'dual'));
  await mkdir(path.join(dir, 'single'));
  dual = await ApiServerProc.start(etcd.endpoint, path.join(dir, 'dual'), ['--service-cluster-ip-range=10.96.0.0/16,fd00:96::/112']);
  // The single-stack one on its own prefix, so its kubernetes service does not clash with the other's.
  single = await ApiServerProc.start(etcd.endpoint, path.join(dir, 'single'), ['--service-cluster-ip-range=10.97.0.0/16', '--etcd-prefix=/single']);
}, 60_000);

afterAll(async () => {
  await dual?.stop();
  await single?.stop();
  client?.close();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!KUBECTL)('dual-stack services through kubectl', () => {
  it('allocates one ClusterIP per family, the primary shown by kubectl get svc', async () => {
    expect((await kc(dual, ['apply'], svc('both', { ipFamilyPolicy: 'PreferDualStack' }))).code).toBe(0);
    const s = await get('both');
    expect(s.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    expect(s.spec.ipFamilyPolicy).toBe('PreferDualStack');
    expect(s.spec.clusterIPs).toHaveLength(2);
    expect(s.spec.clusterIPs[0]).toMatch(/^10\.96\.\d+\.\d+$/);
    expect(s.spec.clusterIPs[1]).toMatch(/^fd00:96::[0-9a-f]{1,4}$/);
    expect(s.spec.clusterIP).toBe(s.spec.clusterIPs[0]);
    const table = (await kc(dual, ['get', 'svc', 'both', '--no-headers'])).stdout.trim().split(/\s+/);
    expect(table[2]).toBe(s.spec.clusterIPs[0]);
    expect(await reserved()).toEqual(expect.arrayContaining(s.spec.clusterIPs));
    // An update that sends no addresses (apply again) keeps them and the families.
    expect((await kc(dual, ['apply'], svc('both', { ipFamilyPolicy: 'PreferDualStack', sessionAffinity: 'ClientIP' }))).code).toBe(0);
    expect((await get('both')).spec.clusterIPs).toEqual(s.spec.clusterIPs);
  });

  it('gives IPv6-first, RequireDualStack, SingleStack and headless services what they ask for', async () => {
    expect((await kc(dual, ['apply'], svc('six', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' }))).code).toBe(0);
    const six = await get('six');
    expect(six.spec.clusterIP).toMatch(/^fd00:96::/);
    expect(six.spec.clusterIPs[1]).toMatch(/^10\.96\./);
    expect((await kc(dual, ['get', 'svc', 'six', '--no-headers'])).stdout.trim().split(/\s+/)[2]).toBe(six.spec.clusterIP);
    expect((await kc(dual, ['apply'], svc('one', {}))).code).toBe(0);
    expect((await get('one')).spec).toMatchObject({ ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
    expect((await get('one')).spec.clusterIPs).toHaveLength(1);
    const ex = await kc(dual, ['apply'], svc('explicit', { clusterIPs: ['10.96.7.7', 'fd00:96::707'] }));
    expect(ex.stderr).toBe('');
    expect((await get('explicit')).spec).toMatchObject({ clusterIPs: ['10.96.7.7', 'fd00:96::707'], ipFamilyPolicy: 'RequireDualStack' });
    expect((await kc(dual, ['apply'], svc('hl', { clusterIP: 'None', ipFamilyPolicy: 'PreferDualStack' }))).code).toBe(0);
    expect((await get('hl')).spec).toMatchObject({ clusterIPs: ['None'], ipFamilies: ['IPv4', 'IPv6'] });
  });

  it('refuses a taken address, one outside the ranges, and dual stack on a single-stack cluster', async () => {
    const taken = await kc(dual, ['apply'], svc('taken', { clusterIPs: ['10.96.9.9', 'fd00:96::707'] }));
    expect(taken.stderr).toContain('failed to allocate IP fd00:96::707: provided IP is already allocated');
    const outside = await kc(dual, ['apply'], svc('outside', { ipFamilies: ['IPv6'], clusterIP: 'fd00:97::1' }));
    expect(outside.stderr).toContain('the provided IP (fd00:97::1) is not in the valid range. The range of valid IPs is fd00:96::/112');
    const r = await kc(single, ['apply'], svc('both', { ipFamilyPolicy: 'RequireDualStack' }));
    expect(r.stderr).toContain('spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services');
    const v6 = await kc(single, ['apply'], svc('v6', { ipFamilies: ['IPv6'] }));
    expect(v6.stderr).toContain('spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster');
    // PreferDualStack on a single-stack cluster: one family, no error.
    expect((await kc(single, ['apply'], svc('pref', { ipFamilyPolicy: 'PreferDualStack' }))).code).toBe(0);
  });

  it('releases both addresses on delete', async () => {
    const s = await get('both');
    expect((await kc(dual, ['delete', 'service', 'both'])).code).toBe(0);
    const left = await reserved();
    for (const ip of s.spec.clusterIPs) expect(left).not.toContain(ip);
  });
});
