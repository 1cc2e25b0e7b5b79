import { describe, expect, it } from 'vitest';
import { CorrelatingEventRecorder, eventObject, type EventSink, type Involved } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';

const pod: Involved = { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1', fieldPath: 'spec.containers{c}' };

class MemorySink implements EventSink {
  readonly created: Record<string, unknown>[] = [];
  readonly recounts: { name: string; count: number; lastTimestamp: string }[] = [];
  gone = false;
  fail = false;
  create(_ns: string, ev: Record<string, unknown>): Promise<void> {
    if (this.fail) return Promise.reject(new Error('apiserver down'));
    this.created.push(ev);
    return Promise.resolve();
  }
  recount(_ns: string, name: string, count: number, lastTimestamp: string): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    this.recounts.push({ name, count, lastTimestamp });
    return Promise.resolve(true);
  }
}

describe('events', () => {
  it('eventObject: named <object>.<hex>, the source host and field path as the kubelet writes them', () => {
    const ev = eventObject(pod, 'Normal', 'Started', 'Started container c', { component: 'kubelet', host: 'node-a' }, Date.UTC(2026, 0, 2, 3, 4, 5), () => 0);
    expect(ev).toMatchObject({
      metadata: { namespace: 'default' },
      involvedObject: { kind: 'Pod', name: 'web', uid: 'u1', fieldPath: 'spec.containers{c}' },
      source: { component: 'kubelet', host: 'node-a' },
      reportingComponent: 'kubelet',
      reportingInstance: 'node-a',
      firstTimestamp: '2026-01-02T03:04:05Z',
      count: 1,
      type: 'Normal',
    });
    expect((ev.metadata as { name: string }).name).toMatch(/^web\.[0-9a-f]+$/);
  });

  it('the same event again within ten minutes raises the first one’s count; another message or a later time makes a new one', async () => {
    let now = 1_000_000;
    const sink = new MemorySink();
    const rec = new CorrelatingEventRecorder(sink, { component: 'kubelet', host: 'a' }, silentLogger, () => now);
    await rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container c');
    now += 5_000;
    await rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container c');
    now += 5_000;
    await rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container c');
    expect(sink.created).toHaveLength(1);
    const name = (sink.created[0]!.metadata as { name: string }).name;
    expect(sink.recounts.map((r) => [r.name, r.count])).toEqual([[name, 2], [name, 3]]);
    await rec.event(pod, 'Warning', 'BackOff', 'another message');
    expect(sink.created).toHaveLength(2);
    now += 11 * 60_000;
    await rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container c');
    expect(sink.created).toHaveLength(3);
  });

  it('an event whose first object is gone is written anew; a failing sink is logged, never thrown', async () => {
    const sink = new MemorySink();
    const rec = new CorrelatingEventRecorder(sink, { component: 'kubelet' }, silentLogger);
    await rec.event(pod, 'Normal', 'Killing', 'Stopping container c');
    sink.gone = true;
    await rec.event(pod, 'Normal', 'Killing', 'Stopping container c');
    expect(sink.created).toHaveLength(2);
    sink.fail = true;
    await expect(rec.event(pod, 'Normal', 'Pulled', 'x')).resolves.toBeUndefined();
  });
});
