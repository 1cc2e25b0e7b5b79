// The kubelet's runtime keeps a running container's inspect while Docker's events are followed (the
// minute's resync of 50 pods inspected every container again), against a real dockerd: a second look
// asks Docker nothing, a container killed behind the kubelet's back is seen dead at the next look, a
// new container is inspected, and without the event stream nothing is kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/index.js';
import { type ContainerDetails, DockerClient, LABELS, PodRuntime } from '../../kubelet/index.js';
import { BUSYBOX_IMAGE, type Dockerd, startDockerd } from './docker.js';
import { waitFor } from './flannel.js';
import { Lab } from './lab.js';

class CountingDocker extends DockerClient {
  inspects = 0;
  override inspectContainer(id: string): Promise<ContainerDetails> {
    this.inspects++;
    return super.inspectContainer(id);
  }
}

const UID = 'cache-uid-1';
const labels = (name: string): string[] =>
  [`${LABELS.podUid}=${UID}`, `${LABELS.podName}=cached`, `${LABELS.podNamespace}=default`, `${LABELS.containerName}=${name}`].flatMap((l) => ['--label', l]);

describe('kubelet runtime: inspect results of running containers', () => {
  let lab: Lab;
  let d: Dockerd;
  let docker: CountingDocker;
  let rt: PodRuntime;
  const stop = new AbortController();
  let events = 0;
  let following: Promise<void> | undefined;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a'] });
    d = await startDockerd(lab.host('a'), { bip: '172.31.253.1/24', ipMasq: false });
    docker = new CountingDocker({ socketPath: d.socket });
    await docker.negotiate();
    rt = new PodRuntime({ docker, log: silentLogger, pauseImage: BUSYBOX_IMAGE, pauseBusybox: '/bin/busybox' });
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    await following?.catch(() => undefined);
    docker?.close();
    await d?.stop();
    await lab?.destroy();
  }, 60_000);

  const look = async (): Promise<{ asked: number; state: Map<string, { running: boolean; exitCode: number }> }> => {
    const before = docker.inspects;
    const p = await rt.getPod(UID);
    return { asked: docker.inspects - before, state: new Map((p?.containers ?? []).map((c) => [c.name, { running: c.running, exitCode: c.exitCode }])) };
  };

  it('inspects each container on every look while no events are followed', async () => {
    await d.docker(['run', '-d', '--name', 'one', ...labels('one'), BUSYBOX_IMAGE, 'sleep', '600']);
    expect((await look()).asked).toBe(1);
    expect((await look()).asked).toBe(1);
  });

  it('keeps a running container while events are followed, and sees one killed behind its back', async () => {
    let connected = false;
    following = (async () => {
      for await (const _ of rt.containerChanges(stop.signal, () => (connected = true))) events++;
    })();
    await waitFor('the event stream', async () => connected || undefined, 10_000, 20);
    const first = await look();
    expect(first.asked).toBe(1);
    expect(first.state.get('one')).toEqual({ running: true, exitCode: 0 });
    expect((await look()).asked).toBe(0);

    await d.docker(['run', '-d', '--name', 'two', ...labels('two'), BUSYBOX_IMAGE, 'sleep', '600']);
    const both = await look();
    expect(both.state.get('two')?.running).toBe(true);
    expect(both.asked).toBe(1); // only the new one
    expect((await look()).asked).toBe(0);

    const seen = events;
    await d.docker(['kill', 'one']);
    await waitFor("Docker's die event", async () => events > seen || undefined, 10_000, 20);
    const after = await look();
    expect(after.state.get('one')).toEqual({ running: false, exitCode: 137 });
    expect(after.state.get('two')?.running).toBe(true);
  });

  it('drops what it kept when the event stream ends', async () => {
    expect((await look()).asked).toBe(0); // 'one' is finished (kept for good), 'two' kept while followed
    stop.abort();
    await following?.catch(() => undefined); // the stream ends with the abort's error
    expect((await look()).asked).toBe(1); // 'two' again; the exited 'one' stays known
  });
});
