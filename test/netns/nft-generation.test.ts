// The nf_tables generation watch (kube-proxy's check, flanneld's iptables-nft check) against the real
// kernel in a lab namespace: another program's large commit (20,000 rules in one transaction, as a
// kube-proxy full sync of many services) is seen, and the watching process lives on. Joining
// NFNLGRP_NFTABLES instead overflowed the socket on such a commit, and npm netlink 0.3.0 aborted the
// process ("Error in native callback").
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './flannel.js';
import { Lab, runCommand } from './index.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('nf_tables generation watch in a lab namespace', () => {
  let lab: Lab;
  let dir: string;
  let ns: string[];

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a'] });
    ns = ['nsenter', `--net=${lab.host('a').nsPath}`, '--'];
    dir = await mkdtemp(path.join(os.tmpdir(), 'flannel-nftgen-'));
  });
  afterAll(async () => {
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sees another program's 20,000-rule commit and survives it", async () => {
    const ready = path.join(dir, 'ready');
    const watcher = path.join(dir, 'watch.mjs');
    await writeFile(
      watcher,
      `import { writeFileSync } from 'node:fs';
import { NftGeneration } from ${JSON.stringify(path.join(REPO, 'dist/netlink/index.js'))};
const gen = new NftGeneration();
let changes = 0;
const first = await gen.read();
gen.watch(() => { changes++; }, 100);
writeFileSync(${JSON.stringify(ready)}, String(first));
const deadline = Date.now() + 20000;
const wait = () => new Promise((r) => setTimeout(r, 100));
while (changes === 0 && Date.now() < deadline) await wait();
// Stay a while after the change: an overflow would abort us in this window.
for (let i = 0; i < 10; i++) await wait();
const last = await gen.read();
console.log(JSON.stringify({ first, last, changes }));
gen.close();
process.exit(changes > 0 ? 0 : 3);
`,
    );
    const child = runCommand([...ns, process.execPath, watcher], { timeoutMs: 40_000 });
    for (let i = 0; i < 200 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(ready)).toBe(true);
    const rules = ['add table ip nftgen', 'add chain ip nftgen c'];
    for (let i = 0; i < 20_000; i++) rules.push(`add rule ip nftgen c ip saddr 10.${i >> 16}.${(i >> 8) & 255}.${i & 255} accept`);
    const commit = await runCommand([...ns, 'nft', '-f', '-'], { timeoutMs: 30_000, input: rules.join('\n') + '\n' });
    expect(commit.code, commit.stderr).toBe(0);
    const r = await child;
    expect(r.stderr).not.toContain('Error in native callback');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { first: number; last: number; changes: number };
    expect(out.last).not.toBe(out.first);
    expect(out.changes).toBeGreaterThan(0);
  }, 90_000);
});
