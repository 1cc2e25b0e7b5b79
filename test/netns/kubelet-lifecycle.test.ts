// Container lifecycle under the kubelet on a lab host (flanneld, dockerd, kubelet in its namespace):
// restart policies, crash-loop back-off (base 1 s, cap 4 s here through the flags), liveness probes
// restarting a container, readiness probes flipping the pod's Ready condition. One host is enough:
// nothing here crosses hosts, and a single dockerd keeps this file light next to kubelet.test.ts.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../../cluster/index.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { waitFor } from './flannel.js';
import { KubeLab, pod, ready, running } from './kubelet.js';

const IMG = { image: BUSYBOX_IMAGE, imagePullPolicy: 'Never' as const };
const statusOf = (p: Pod, c = 'c') => p.status?.containerStatuses?.find((s) => s.name === c);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('kubelet: restart policies, back-off and probes', () => {
  let k: KubeLab;

  beforeAll(async () => {
    k = await KubeLab.start({ hosts: ['a'] });
  }, 180_000);

  afterAll(async () => {
    await k?.destroy();
  }, 120_000);

  it('Always: restarts a crashing container with a doubling back-off, capped, and shows CrashLoopBackOff', async () => {
    // Each start appends the machine's uptime (centiseconds, one clock for every container) to a file on the node.
    const dir = path.join(k.node('a').host.dir, 'crash');
    const log = "cut -d' ' -f1 /proc/uptime >> /data/starts; exit 3";
    await k.putPod(pod('crash', 'a', { restartPolicy: 'Always', volumes: [{ name: 'd', hostPath: { path: dir, type: 'DirectoryOrCreate' } }], containers: [{ name: 'c', ...IMG, command: ['sh', '-c', log], volumeMounts: [{ name: 'd', mountPath: '/data' }] }] }));
    let sawBackoff = false;
    const starts = await waitFor('six starts of the crashing container', async () => {
      const p = await k.getPod('default', 'crash');
      if (p && statusOf(p)?.state.waiting?.reason === 'CrashLoopBackOff') {
        sawBackoff = true;
        expect(statusOf(p)?.lastState?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
        expect(p.status?.phase).toBe('Running'); // Always: restarting counts as running
      }
      const lines = (await readFile(path.join(dir, 'starts'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => Number(l) * 1000);
      return lines.length >= 6 ? lines : undefined;
    }, 40_000, 200);
    expect(sawBackoff).toBe(true);
    const t = starts;
    const gaps = t.slice(1).map((v, i) => v - t[i]!);
    // Restart 1 at once; then 1 s, 2 s, 4 s, 4 s (capped) after each exit. Every gap also holds the time to
    // start a container, which load stretches: the lower bounds are absolute, the others relative.
    expect(gaps[0]!).toBeLessThan(gaps[3]! - 2_000);
    expect(gaps[1]!).toBeGreaterThanOrEqual(900);
    expect(gaps[2]!).toBeGreaterThanOrEqual(1_900);
    expect(gaps[3]!).toBeGreaterThanOrEqual(3_800);
    expect(gaps[4]!).toBeGreaterThanOrEqual(3_800);
    expect(gaps[4]! - gaps[3]!).toBeLessThan(2_500); // the cap holds: not 8 s after 4 s
    await k.waitPod('crash', 'restart count 5 in the status', (p) => (statusOf(p)?.restartCount ?? 0) >= 5, 10_000);
    await k.store.delete('/registry/pods/default/crash');
  });

  it('OnFailure: restarts after a failure, not after success, then Succeeded; Never: Failed without a restart', async () => {
    const once = "if [ -f /data/ran ]; then exit 0; fi; touch /data/ran; exit 4";
    await k.putPod(pod('onfail', 'a', { restartPolicy: 'OnFailure', volumes: [{ name: 'd', emptyDir: {} }], containers: [{ name: 'c', ...IMG, command: ['sh', '-c', once], volumeMounts: [{ name: 'd', mountPath: '/data' }] }] }));
    await k.putPod(pod('never', 'a', { restartPolicy: 'Never', containers: [{ name: 'c', ...IMG, command: ['sh', '-c', 'exit 2'] }] }));
    await k.putPod(pod('done', 'a', { restartPolicy: 'Always', containers: [{ name: 'c', ...IMG, command: ['true'] }] }));
    const of = await k.waitPod('onfail', 'Succeeded', (p) => p.status?.phase === 'Succeeded');
    expect(statusOf(of)).toMatchObject({ restartCount: 1, state: { terminated: { exitCode: 0, reason: 'Completed' } }, lastState: { terminated: { exitCode: 4 } } });
    expect(of.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    const nv = await k.waitPod('never', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(statusOf(nv)).toMatchObject({ restartCount: 0, state: { terminated: { exitCode: 2, reason: 'Error' } } });
    await sleep(3_000); // a few syncs later nothing was restarted, and the infra containers are stopped
    expect(statusOf((await k.getPod('default', 'never'))!)).toMatchObject({ restartCount: 0 });
    expect(statusOf((await k.getPod('default', 'onfail'))!)).toMatchObject({ restartCount: 1 });
    for (const name of ['never', 'onfail']) {
      const infra = await k.containers('a', name, 'POD');
      expect(infra.map((c) => c.state)).toEqual(['exited']);
    }
    // Always restarts even a container that exits 0.
    await k.waitPod('done', 'restarted', (p) => (statusOf(p)?.restartCount ?? 0) >= 1);
    for (const name of ['onfail', 'never', 'done']) await k.store.delete(`/registry/pods/default/${name}`);
  });

  it('liveness: restarts a container whose exec probe fails; tcpSocket liveness keeps a healthy one', async () => {
    const flaky = 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600';
    await k.putPod(
      pod('live', 'a', {
        containers: [
          { name: 'c', ...IMG, command: ['sh', '-c', flaky], livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 } },
          { name: 'web', ...IMG, command: ['httpd', '-f', '-p', '8080', '-h', '/www'], ports: [{ name: 'http', containerPort: 8080 }], livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1, failureThreshold: 1 } },
        ],
      }),
    );
    const p = await k.waitPod('live', 'restarted by its liveness probe', (x) => (statusOf(x)?.restartCount ?? 0) >= 1 && running(x), 30_000);
    expect(statusOf(p)?.lastState?.terminated).toBeDefined();
    expect(statusOf(p, 'web')?.restartCount).toBe(0);
    await k.store.delete('/registry/pods/default/live');
  });

  it('readiness: the Ready condition follows an httpGet probe, both ways', async () => {
    await k.putPod(pod('rdy', 'a', { containers: [{ name: 'c', ...IMG, command: ['httpd', '-f', '-p', '8080', '-h', '/www'], readinessProbe: { httpGet: { path: '/ready.html', port: 8080 }, periodSeconds: 1, failureThreshold: 1 } }] }));
    const p = await k.waitPod('rdy', 'Running but not Ready', (x) => running(x) && x.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'ContainersNotReady');
    expect(statusOf(p)).toMatchObject({ ready: false, state: { running: {} } });
    expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe('containers with unready status: [c]');
    await k.execIn('a', 'rdy', 'c', ['sh', '-c', 'echo ok > /www/ready.html']);
    await k.waitPod('rdy', 'Ready', ready, 15_000);
    await k.execIn('a', 'rdy', 'c', ['rm', '/www/ready.html']);
    const back = await k.waitPod('rdy', 'not Ready again', (x) => !ready(x), 15_000);
    expect(statusOf(back)).toMatchObject({ ready: false, restartCount: 0 });
    await k.store.delete('/registry/pods/default/rdy');
  });
});
