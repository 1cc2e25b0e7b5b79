// Keeps flanneld's chains in place: applies them atomically with iptables-restore --noflush, then
// every `resyncSec` compares iptables-save with what they should be and repairs any difference
// (someone flushed a chain, Docker restarted and put its rules first, ...). Where iptables is
// iptables-nft every ruleset change bumps nf_tables' generation, read over netlink each second: a
// check then runs only after a change, plus a slow one every FULL_CHECK_PERIODS periods; an idle host
// spawns nothing.
import { execFile } from 'node:child_process';
import { NftGeneration } from '../netlink/index.js';
import { promisify } from 'node:util';
import { errorMessage, FlannelError, type Logger, sleep } from '../common/index.js';
import { type ChainSpec, parseIptablesSave, planRestore } from './rules.js';

const run = promisify(execFile);

export class IptablesError extends FlannelError {
  readonly code = 'IPTABLES';
  override readonly transient = true;
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly payload?: string,
  ) {
    super(`${command} failed: ${stderr.trim().split('\n')[0] ?? ''}`);
  }
}

export interface IptablesRunner {
  save(tables: readonly string[]): Promise<string>;
  restore(payload: string): Promise<void>;
  /**
   * Calls `onChange` after any change to the rules, when the kernel announces them (iptables-nft);
   * resolves to a function that stops, or undefined when nothing announces changes (iptables-legacy).
   */
  watchChanges?(onChange: () => void): Promise<(() => void) | undefined>;
}

/** A check after this many quiet periods anyway: a lost notification or a legacy table next to nft. */
const FULL_CHECK_PERIODS = 12;

/**
 * Calls `onChange` after nf_tables changes in this network namespace. The generation is polled rather than
 * NFNLGRP_NFTABLES joined: a large commit by another program (kube-proxy's full sync) overflows any
 * subscriber's buffer, and npm netlink 0.3.0 aborts the process on that ENOBUFS.
 */
function watchNftables(onChange: () => void): () => void {
  const gen = new NftGeneration();
  const stop = gen.watch(onChange, 1_000);
  return () => {
    stop();
    gen.close();
  };
}

/** The iptables (or ip6tables) binaries of this host. */
export function systemIptables(family: 4 | 6 = 4): IptablesRunner {
  const save = family === 4 ? 'iptables-save' : 'ip6tables-save';
  const restore = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  return {
    async save(tables) {
      let out = '';
      for (const t of tables) {
        try {
          out += (await run(save, ['-t', t], { timeout: 10_000 })).stdout;
        } catch (e) {
          throw new IptablesError(`${save} -t ${t}`, (e as { stderr?: string }).stderr ?? errorMessage(e));
        }
      }
      return out;
    },
    async watchChanges(onChange) {
      const version = await run(family === 4 ? 'iptables' : 'ip6tables', ['-V'], { timeout: 10_000 }).catch(() => undefined);
      if (!version?.stdout.includes('nf_tables')) return undefined;
      return watchNftables(onChange);
    },
    async restore(payload) {
      await new Promise<void>((resolve, reject) => {
        const child = execFile(restore, ['--noflush', '--wait'], { timeout: 10_000 }, (err, _out, stderr) =>
          err ? reject(new IptablesError(`${restore} --noflush`, stderr || errorMessage(err), payload)) : resolve(),
        );
        child.stdin?.end(payload);
      });
    },
  };
}

export class IptablesManager {
  private specs: readonly ChainSpec[] = [];
  private wake = new AbortController();
  /** How many times rules were (re)written: 1 at start, more only when something drifted. */
  restores = 0;

  constructor(
    private readonly ipt: IptablesRunner,
    private readonly resyncSec: number,
    private readonly log: Logger,
    private readonly onRestore: () => void = () => undefined,
  ) {}

  /** Replaces the wanted chains (e.g. after a lease change) and applies them at once. */
  set(specs: readonly ChainSpec[]): void {
    this.specs = specs;
    this.wake.abort();
  }

  /** One compare-and-repair pass. */
  async sync(): Promise<boolean> {
    if (this.specs.length === 0) return false;
    const tables = [...new Set(this.specs.map((s) => s.table))];
    const payload = planRestore(this.specs, parseIptablesSave(await this.ipt.save(tables)));
    if (payload === undefined) return false;
    await this.ipt.restore(payload);
    this.restores++;
    this.onRestore();
    this.log.info({ chains: this.specs.map((s) => `${s.table}/${s.chain}`), restores: this.restores }, this.restores === 1 ? 'iptables rules applied' : 'iptables rules repaired');
    return true;
  }

  async run(signal: AbortSignal): Promise<void> {
    // Until a watch is up (or where there is none), every period checks.
    let changed = true;
    const stop = await this.ipt.watchChanges?.(() => (changed = true)).catch((e: unknown) => {
      this.log.warn({ err: errorMessage(e) }, 'no iptables change notifications; checking every period');
      return undefined;
    });
    let quiet = 0;
    try {
      while (!signal.aborted) {
        const due = !stop || changed || this.wake.signal.aborted || quiet >= FULL_CHECK_PERIODS;
        if (this.wake.signal.aborted) this.wake = new AbortController();
        if (due) {
          changed = false;
          quiet = 0;
          try {
            await this.sync();
          } catch (e) {
            changed = true; // try again next period
            this.log.error({ err: errorMessage(e), ...(e instanceof IptablesError && e.payload && { payload: e.payload }) }, 'iptables sync failed');
          }
        } else {
          quiet++;
        }
        await sleep(this.resyncSec * 1000, AbortSignal.any([signal, this.wake.signal]));
      }
    } finally {
      stop?.();
    }
  }
}
