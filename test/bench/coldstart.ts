// One flanneld cold start, process spawn to subnet.env on disk, in a lab host against a lab etcd;
// the baseline is a bare `node -e 0` started the same way (the floor any Node daemon pays).
import { rm, stat } from 'node:fs/promises';
import { Lab, startFlanneld, startLabEtcd, subnetFileOf } from '../netns/index.js';
import { percentile, type BenchResult } from './stats.js';

async function untilExists(file: string, ms: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < ms / 2; i++) {
    try {
      await stat(file);
      return performance.now() - t0;
    } catch {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  throw new Error(`${file} did not appear within ${ms} ms`);
}

export async function benchColdStart(runs = 5): Promise<BenchResult[]> {
  const lab = await Lab.create({ hosts: ['a'] });
  try {
    const etcd = await startLabEtcd(lab);
    try {
      await etcd.ctl(['put', '/coreos.com/network/config', '{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}']);
      const a = lab.host('a');
      const bare: number[] = [];
      const cold: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await a.run([process.execPath, '-e', '0']);
        bare.push(performance.now() - t0);

        await etcd.ctl(['del', '--prefix', '/coreos.com/network/subnets/']);
        await rm(subnetFileOf(a), { force: true });
        const t1 = performance.now();
        const fl = startFlanneld(a, etcd, { tag: `bench${i}` });
        await untilExists(subnetFileOf(a), 20_000);
        cold.push(performance.now() - t1);
        fl.kill('SIGTERM');
        await fl.wait(10_000);
      }
      const base = percentile(bare, 50);
      return [
        { name: 'node process start (baseline)', value: base, unit: 'ms p50', ratio: 1 },
        { name: 'flanneld cold start to subnet.env', value: percentile(cold, 50), unit: 'ms p50', ratio: percentile(cold, 50) / base, baseline: 'node start' },
      ];
    } finally {
      await etcd.destroy();
    }
  } finally {
    await lab.destroy();
  }
}
