// The kubelet at rest: the node's capacity and machine info are read on a slow period, not at every
// heartbeat; the resync of every pod comes at Kubernetes' default --sync-frequency.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addKubeletOptions, kubeletOptions, SlowRefresh } from '../kubelet/index.js';

describe('the idle periods by default', () => {
  it("are Kubernetes' own: every pod resynced each minute, the node status every 10 s, static pods every 20 s", () => {
    const cmd = addKubeletOptions(new Command('kubelet')).exitOverride().configureOutput({ writeErr: () => undefined });
    cmd.parse(['--hostname-override=n1'], { from: 'user' });
    const o = kubeletOptions(cmd.opts(), false);
    expect(o).toMatchObject({ syncFrequency: 60_000, nodeStatusUpdateFrequency: 10_000, fileCheckFrequency: 20_000, nodeMonitorPeriod: 5_000 });
  });
});

describe('SlowRefresh', () => {
  it('reads once per period, again when the key changes, and shares a read under way', async () => {
    let now = 0;
    const reads: string[] = [];
    const r = new SlowRefresh(1_000, async (k: string) => {
      reads.push(k);
      return `${k}#${reads.length}`;
    }, () => now);
    const [a, b] = await Promise.all([r.get('v1'), r.get('v1')]);
    expect([a, b]).toEqual(['v1#1', 'v1#1']);
    now = 999;
    expect(await r.get('v1')).toBe('v1#1');
    expect(await r.get('v2')).toBe('v2#2'); // the runtime's version changed
    now = 2_000;
    expect(await r.get('v2')).toBe('v2#3');
    expect(reads).toEqual(['v1', 'v2', 'v2']);
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const r = new SlowRefresh(60_000, async () => {
      if (fail) throw new Error('cannot read /proc/meminfo');
      return 1;
    });
    await expect(r.get('k')).rejects.toThrow('/proc/meminfo');
    fail = false;
    expect(await r.get('k')).toBe(1);
  });
});
