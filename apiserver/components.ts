// componentstatuses, as kube-apiserver computes them when asked (nothing is stored): etcd, probed
// through the apiserver's own client, and the scheduler and controller-manager, probed at their
// secure /healthz ports on this host. A component that does not answer is Unhealthy with the error
// worded as Go's HTTP client words it, so `kubectl get cs` reads as it does on a real master.
import { request } from 'node:https';
import { errorMessage, withTimeout } from '../common/index.js';
import type { Obj } from './object.js';

const PROBE_MS = 2_000;

/** The components kube-apiserver 1.32 lists, with their health endpoints. */
export const PROBED_COMPONENTS = [
  { name: 'scheduler', url: 'https://127.0.0.1:10259/healthz' },
  { name: 'controller-manager', url: 'https://127.0.0.1:10257/healthz' },
] as const;

/** A ComponentStatus with its one Healthy condition. */
export function componentStatus(name: string, healthy: boolean, message: string, error: string): Obj {
  return { kind: 'ComponentStatus', apiVersion: 'v1', metadata: { name }, conditions: [{ type: 'Healthy', status: healthy ? 'True' : 'False', message, error }] };
}

/** A failed probe as Go's net/http reports it (`Get "https://...": dial tcp 127.0.0.1:10259: connect: connection refused`). */
export function probeError(url: string, e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const host = new URL(url).host;
  const why = code === 'ECONNREFUSED' ? `dial tcp ${host}: connect: connection refused` : code === 'ETIMEDOUT' ? `dial tcp ${host}: i/o timeout` : errorMessage(e);
  return `Get ${JSON.stringify(url)}: ${why}`;
}

/** GET `url` (a self-signed serving certificate is accepted, as kube-apiserver's probe does); its status and body. */
function probe(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, timeout: PROBE_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.slice(0, 4096)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** Every component's status now: the scheduler, the controller-manager, then etcd-0 (checked by `etcdOk`). */
export async function componentStatuses(etcdOk: () => Promise<unknown>): Promise<Obj[]> {
  const probed = await Promise.all(
    PROBED_COMPONENTS.map(async (c) => {
      try {
        const r = await probe(c.url);
        return r.status === 200 ? componentStatus(c.name, true, r.body || 'ok', '') : componentStatus(c.name, false, r.body, `HTTP probe failed with statuscode: ${r.status}`);
      } catch (e) {
        return componentStatus(c.name, false, '', probeError(c.url, e));
      }
    }),
  );
  let etcd: Obj;
  try {
    const ok = await withTimeout(etcdOk().then(() => true), PROBE_MS);
    etcd = ok ? componentStatus('etcd-0', true, '{"health":"true","reason":""}', '') : componentStatus('etcd-0', false, '', `etcd did not answer within ${PROBE_MS / 1000}s`);
  } catch (e) {
    etcd = componentStatus('etcd-0', false, '', errorMessage(e));
  }
  return [...probed, etcd];
}
