// `npm run bench [name...]`: runs the named benchmarks (all by default) and prints each figure with
// its ratio to a baseline measured in the same run.
import { benchColdStart } from './coldstart.js';
import { benchConcurrentAcquire } from './leases.js';
import { printResults, type BenchResult } from './stats.js';

const benches: Record<string, { title: string; run: () => Promise<BenchResult[]> }> = {
  leases: { title: 'Lease acquisition, 1,000 nodes, one etcd', run: () => benchConcurrentAcquire(1000) },
  coldstart: { title: 'flanneld cold start', run: () => benchColdStart(5) },
};

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const b = benches[name];
  if (!b) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  printResults(b.title, await b.run());
}
