// The shared nft edge against the real nft, in a lab namespace: element scripts through one long-lived
// `nft -i`, everything else through `nft -f`, each transaction all or nothing, failures named by line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftError, NftRunner, NftSession } from '../../nft/index.js';
import { Lab, runCommand } from './index.js';

const isRoot = process.getuid?.() === 0;
const T = 'ip nftsess';

describe.skipIf(!isRoot)('nft runner in a lab namespace', () => {
  let lab: Lab;
  let argv: string[];
  const elements = async (set: string): Promise<string[]> => {
    const r = await runCommand([...argv, '-j', 'list', 'set', ...T.split(' '), set], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(r.stderr);
    const j = JSON.parse(r.stdout) as { nftables: { set?: { elem?: string[] } }[] };
    return (j.nftables.find((o) => o.set)?.set?.elem ?? []).map(String).sort();
  };
  const table = (sets: string[]) => `add table ${T}\ndelete table ${T}\nadd table ${T}\n${sets.map((s) => `add set ${T} ${s} { type ipv4_addr ; }`).join('\n')}\n`;

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['a'] });
    argv = ['nsenter', `--net=${lab.host('a').nsPath}`, '--', 'nft'];
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('sends element scripts to one long-lived process and the rest to nft -f', async () => {
    const nft = new NftRunner({ argv });
    try {
      expect(nft.interactiveStarts).toBe(0);
      await nft.run(table(['s'])); // through nft -f, which then starts the long-lived process for what follows
      expect(nft.interactiveStarts).toBe(1);
      for (let i = 1; i <= 20; i++) await nft.run(`add element ${T} s { 10.0.0.${i} }\n`);
      await nft.run(`delete element ${T} s { 10.0.0.1 }\ndelete element ${T} s { 10.0.0.2 }\nadd element ${T} s { 10.0.1.1, 10.0.1.2 }\n`);
      expect(nft.interactiveStarts).toBe(1);
      const want = [...Array.from({ length: 18 }, (_, i) => `10.0.0.${i + 3}`), '10.0.1.1', '10.0.1.2'].sort();
      expect(await elements('s')).toEqual(want);
    } finally {
      nft.close();
    }
  });

  it('applies a failing script not at all, names its line, and starts a new process for the next', async () => {
    const nft = new NftRunner({ argv });
    try {
      await nft.run(table(['s']));
      await nft.run(`add element ${T} s { 10.1.0.1 }\n`);
      const err = await nft.run(`add element ${T} s { 10.1.0.2 }\ndelete element ${T} s { 10.1.0.99 }\nadd element ${T} s { 10.1.0.3 }\n`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NftError);
      expect((err as NftError).line).toBe(2);
      expect((err as NftError).context.find((l) => l.startsWith('>'))).toMatch(/^>2: delete element ip nftsess s \{ 10\.1\.0\.99 \}/);
      expect((err as NftError).stderr).toMatch(/Error: /);
      expect(await elements('s')).toEqual(['10.1.0.1']);
      await nft.run(`add element ${T} s { 10.1.0.4 }\n`);
      expect(nft.interactiveStarts).toBe(2);
      expect(await elements('s')).toEqual(['10.1.0.1', '10.1.0.4']);
    } finally {
      nft.close();
    }
  });

  it('sees what another nft process did to the table meanwhile', async () => {
    const nft = new NftRunner({ argv });
    try {
      await nft.run(table(['s']));
      await nft.run(`add element ${T} s { 10.2.0.1 }\n`);
      await nft.run(table(['s', 's2'])); // the table recreated by nft -f, with a set the session never saw
      await nft.run(`add element ${T} s2 { 10.2.0.2 }\nadd element ${T} s { 10.2.0.3 }\n`);
      expect(nft.interactiveStarts).toBe(1);
      expect(await elements('s')).toEqual(['10.2.0.3']);
      expect(await elements('s2')).toEqual(['10.2.0.2']);
    } finally {
      nft.close();
    }
  });

  it('runs everything through nft -f when told not to keep a process', async () => {
    const nft = new NftRunner({ argv, interactive: false });
    await nft.run(table(['s']));
    await nft.run(`add element ${T} s { 10.3.0.1 }\n`);
    expect(nft.interactiveStarts).toBe(0);
    expect(await elements('s')).toEqual(['10.3.0.1']);
  });

  it('replaces the process after its input budget', async () => {
    const s = new NftSession({ argv, recycleBytes: 100 });
    try {
      await new NftRunner({ argv, interactive: false }).run(table(['s']));
      for (let i = 1; i <= 6; i++) await s.run(`add element ${T} s { 10.4.0.${i}, 10.4.1.${i}, 10.4.2.${i} }\n`);
      expect(s.starts).toBeGreaterThanOrEqual(3);
      expect((await elements('s')).length).toBe(18);
    } finally {
      s.close();
    }
  });

  it('reports a process that exits as an error with no line', async () => {
    const s = new NftSession({ argv: ['sh', '-c', 'exit 3', 'sh'], timeoutMs: 10_000 });
    const err = await s.run(`add element ${T} s { 10.5.0.1 }\n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftError);
    expect((err as NftError).line).toBeUndefined();
    expect((err as NftError).message).toMatch(/exited/);
  });
});
