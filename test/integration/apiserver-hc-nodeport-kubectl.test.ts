// healthCheckNodePort on update through the real kubectl (1.20 and the newest present) against the built
// apiserver on a real etcd: `kubectl patch` to externalTrafficPolicy Local allocates one (reserved under
// /registry/ranges/servicenodeports/), back to Cluster releases it, a value the client names is kept and
// checked (in range, not in use), a Local service's may not change, a change to ClusterIP releases it and
// the node ports, a NodePort service turned into a Local LoadBalancer gets one, and node ports are
// allocated on a change from ClusterIP to NodePort and moved when the client renumbers one.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../common/index.js';
import { ApiServerProc, EtcdServer, kubectl, kubectlBinaries } from '../harness/index.js';

const present = kubectlBinaries().filter((b) => b.present);
const KUBECTLS = [present[0], present.at(-1)].filter((b, i, a): b is NonNullable<typeof b> => b !== undefined && a.indexOf(b) === i);
const PORTS = '/registry/ranges/servicenodeports/';
let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;
let client: Etcd3;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apihc-'));
  etcd = await EtcdServer.start();
  client = createEtcdClient({ endpoints: [etcd.endpoint] });
  srv = await ApiServerProc.start(etcd.endpoint, dir, ['--service-node-port-range=30000-30999']);
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  client?.close();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const reserved = async (): Promise<number[]> => (await client.getAll().prefix(PORTS).keys()).map((k) => Number(k.slice(PORTS.length)));

describe.each(KUBECTLS)('healthCheckNodePort on update with kubectl $version', ({ version, path: bin }) => {
  const kc = (args: string[]) => kubectl(bin, srv.kubeconfig, path.join(dir, `cache-${version}`), args);
  const tag = version.replace('.', '-');
  const hcOf = async (name: string): Promise<string> => {
    const r = await kc(['get', 'service', name, '-o', 'jsonpath={.spec.healthCheckNodePort}']);
    expect(r.stderr).toBe('');
    return r.stdout.trim();
  };
  const patch = (name: string, spec: Record<string, unknown>) => kc(['patch', 'service', name, '-p', JSON.stringify({ spec })]);
  const create = async (name: string, spec: Record<string, unknown>) => {
    const f = path.join(dir, `${name}.json`);
    await writeFile(f, JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec } }));
    const r = await kc(['create', '-f', f]);
    expect(r.stderr).toBe('');
  };

  it('allocates one on a change to Local, releases it on the way back to Cluster', async () => {
    const name = `lb-${tag}`;
    await create(name, { type: 'LoadBalancer' });
    expect(await hcOf(name)).toBe('');
    const p = await patch(name, { externalTrafficPolicy: 'Local' });
    expect(p.stderr).toBe('');
    const hc = Number(await hcOf(name));
    expect(hc).toBeGreaterThanOrEqual(30000);
    expect(hc).toBeLessThanOrEqual(30999);
    expect(await reserved()).toContain(hc);
    expect((await patch(name, { externalTrafficPolicy: 'Cluster' })).stderr).toBe('');
    expect(await hcOf(name)).toBe('');
    expect(await reserved()).not.toContain(hc);
  });

  it('keeps a value the client names, refuses a change of it, a taken one and one out of range', async () => {
    const name = `named-${tag}`;
    const want = version === KUBECTLS[0]!.version ? 30700 : 30701;
    await create(name, { type: 'LoadBalancer' });
    expect((await patch(name, { externalTrafficPolicy: 'Local', healthCheckNodePort: want })).stderr).toBe('');
    expect(await hcOf(name)).toBe(String(want));
    expect(await reserved()).toContain(want);
    const changed = await patch(name, { healthCheckNodePort: want + 10 });
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('spec.healthCheckNodePort: Forbidden: field is immutable');
    const other = `other-${tag}`;
    await create(other, { type: 'LoadBalancer' });
    const taken = await patch(other, { externalTrafficPolicy: 'Local', healthCheckNodePort: want });
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain(`Internal error occurred: failed to allocate requested HealthCheck NodePort ${want}: provided port is already allocated`);
    const outside = await patch(other, { externalTrafficPolicy: 'Local', healthCheckNodePort: 31500 });
    expect(outside.stderr).toContain('failed to allocate requested HealthCheck NodePort 31500: provided port is not in the valid range. The range of valid ports is 30000-30999');
    // The refused updates changed nothing.
    expect(await hcOf(other)).toBe('');
    expect(await hcOf(name)).toBe(String(want));
  });

  it('releases it and the node ports on a change to ClusterIP; a NodePort turned Local LoadBalancer gets one', async () => {
    const name = `back-${tag}`;
    await create(name, { type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
    const hc = Number(await hcOf(name));
    const np = Number((await kc(['get', 'service', name, '-o', 'jsonpath={.spec.ports[0].nodePort}'])).stdout);
    expect(await reserved()).toEqual(expect.arrayContaining([hc, np]));
    const r = await patch(name, { type: 'ClusterIP' });
    expect(r.stderr).toBe('');
    const spec = JSON.parse((await kc(['get', 'service', name, '-o', 'jsonpath={.spec}'])).stdout) as Record<string, unknown>;
    expect(spec).toMatchObject({ type: 'ClusterIP' });
    expect(spec).not.toHaveProperty('healthCheckNodePort');
    expect(spec).not.toHaveProperty('externalTrafficPolicy');
    const left = await reserved();
    expect(left).not.toContain(hc);
    expect(left).not.toContain(np);

    const npName = `np-${tag}`;
    await create(npName, { type: 'NodePort' });
    expect((await patch(npName, { type: 'LoadBalancer', externalTrafficPolicy: 'Local' })).stderr).toBe('');
    const got = Number(await hcOf(npName));
    expect(got).toBeGreaterThanOrEqual(30000);
    expect(await reserved()).toContain(got);
    // Deleted with the service.
    expect((await kc(['delete', 'service', npName])).code).toBe(0);
    expect(await reserved()).not.toContain(got);
  });
  it('allocates node ports on a change from ClusterIP to NodePort, and moves one the client renumbers', async () => {
    const name = `cip-${tag}`;
    await create(name, {});
    expect((await patch(name, { type: 'NodePort' })).stderr).toBe('');
    const npOf = async () => Number((await kc(['get', 'service', name, '-o', 'jsonpath={.spec.ports[0].nodePort}'])).stdout);
    const np = await npOf();
    expect(np).toBeGreaterThanOrEqual(30000);
    expect(await reserved()).toContain(np);
    const want = version === KUBECTLS[0]!.version ? 30800 : 30801;
    expect((await patch(name, { ports: [{ port: 80, nodePort: want }] })).stderr).toBe('');
    expect(await npOf()).toBe(want);
    const left = await reserved();
    expect(left).toContain(want);
    expect(left).not.toContain(np);
  });
});
