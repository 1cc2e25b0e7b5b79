// Keeps flanneld's chains in place: applies them atomically with iptables-restore --noflush, then
// every `resyncSec` compares iptables-save with what they should be and repairs any difference
// (someone flushed a chain, Docker restarted and put its rules first, ...).
import { execFile } from 'node:child_process';
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
    while (!signal.aborted) {
      try {
        await this.sync();
      } catch (e) {
        this.log.error({ err: errorMessage(e), ...(e instanceof IptablesError && e.payload && { payload: e.payload }) }, 'iptables sync failed');
      }
      await sleep(this.resyncSec * 1000, AbortSignal.any([signal, this.wake.signal]));
      if (this.wake.signal.aborted) this.wake = new AbortController();
    }
  }
}
