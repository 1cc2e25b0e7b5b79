// The edge to nft for a daemon's own table: every script is one transaction. Element-only scripts (the
// incremental syncs' traffic) go to a long-lived `nft -i` (no process start); everything else — a full
// sync, a new chain or set, a cleanup — and a script above `interactiveMaxBytes` go through `nft -f -`,
// one process each. When the long-lived process cannot be started or keeps dying (an nft built
// without its CLI), element scripts go through `nft -f -` as well. The daemon runs nft in its own
// network namespace; `argv` lets a benchmark or test aim it at a lab namespace (`nsenter --net=<path>
// -- nft`), never at the caller's.
//
// `runElements` is the fast path for element changes given as data (netpol-agent's syncs): one
// nfnetlink batch, no ruleset fetched (netlink-writer.ts), in the namespace argv aims at (its prefix
// before `nft`). What cannot be encoded, or a socket or relay that fails, goes through `run(script)`;
// a batch the kernel refuses (nothing applied) is thrown, as nft's error would be.
import type { Logger } from '../common/index.js';
import { NftError } from './errors.js';
import { contextLines, execFileInput, type ExecResult, failingLine } from './exec.js';
import { type ElementChange, ElementEncodeError } from './elements.js';
import { isElementOnly } from './interactive.js';
import { NetlinkElementWriter, NetlinkLinkError } from './netlink-writer.js';
import { NftSession } from './session.js';

export interface NftCliOptions {
  readonly argv?: readonly string[];
  /** Bound on each `nft -f` process. Default 60 s. */
  readonly timeoutMs?: number;
  /** Use the long-lived `nft -i` for element-only scripts. Default true. */
  readonly interactive?: boolean;
  /** Larger element scripts go through `nft -f`. Default 256 KiB. */
  readonly interactiveMaxBytes?: number;
  /** Let `runElements` write over netlink (when argv ends in `nft`, or netlinkPrefix is given). Default true. */
  readonly netlink?: boolean;
  /** The command prefix that enters nft's namespace, when argv is not `[…prefix, nft]` (a wrapper). */
  readonly netlinkPrefix?: readonly string[];
  readonly log?: Logger;
}

/** Element changes given as data, with the same change as an nft script for when netlink cannot write them. */
export interface ElementPort {
  /** Says which path wrote the change. */
  runElements(changes: readonly ElementChange[], script: string): Promise<'netlink' | 'nft'>;
  /** Opens the netlink path now, so that the first change does not wait for it. */
  prepareElements(): void;
}

/** The command prefix that enters argv's namespace (`nsenter … --`), [] for none; undefined when argv is not `… nft`. */
export function prefixOf(argv: readonly string[]): string[] | undefined {
  const last = argv.at(-1);
  return last !== undefined && /(?:^|\/)nft$/.test(last) ? argv.slice(0, -1) : undefined;
}

/** Failures of the long-lived process in a row (not nft's errors) after which it is given up. */
const SESSION_GIVE_UP = 3;

export class NftRunner implements ElementPort {
  protected readonly argv: readonly string[];
  protected readonly timeoutMs: number;
  private readonly maxInteractive: number;
  private readonly log: Logger | undefined;
  private session: NftSession | undefined;
  private sessionFailures = 0;
  private readonly netlinkPrefix: string[] | undefined;
  private writer: NetlinkElementWriter | undefined;
  private writerFailures = 0;
  /** Element batches written over netlink, and element changes that went to nft instead. */
  readonly elementStats = { netlink: 0, nft: 0 };

  constructor(o: NftCliOptions = {}) {
    this.argv = o.argv ?? ['nft'];
    this.timeoutMs = o.timeoutMs ?? 60_000;
    this.maxInteractive = o.interactiveMaxBytes ?? 256 << 10;
    this.log = o.log;
    if (o.interactive ?? true) this.session = new NftSession({ argv: this.argv, timeoutMs: Math.min(this.timeoutMs, 30_000) });
    this.netlinkPrefix = (o.netlink ?? true) ? (o.netlinkPrefix ? [...o.netlinkPrefix] : prefixOf(this.argv)) : undefined;
  }

  /** Applies element changes as one transaction: over netlink when it can, else `script` through `run`. */
  async runElements(changes: readonly ElementChange[], script: string): Promise<'netlink' | 'nft'> {
    const w = this.elementWriter();
    if (w && changes.length) {
      try {
        await w.apply(changes);
        this.writerFailures = 0;
        this.elementStats.netlink++;
        return 'netlink';
      } catch (e) {
        if (e instanceof NetlinkLinkError) {
          // Not known whether the batch went in: nft writes it again (adds are idempotent; a delete
          // already done fails, and the caller's next sync is full).
          if (++this.writerFailures >= SESSION_GIVE_UP) {
            this.writer = undefined;
            w.close();
            this.log?.warn({ err: e.message }, 'netfilter netlink keeps failing; element changes go through nft from now on');
          } else this.log?.warn({ err: e.message }, 'netfilter netlink failed; this change goes through nft');
        } else if (!(e instanceof ElementEncodeError || e instanceof RangeError)) throw e;
      }
    }
    this.elementStats.nft++;
    await this.run(script);
    return 'nft';
  }

  prepareElements(): void {
    this.elementWriter()?.warm();
  }

  /** Applies the script as one transaction; throws NftError with the failing line. */
  async run(script: string): Promise<void> {
    if (!script) return;
    const s = this.session;
    if (s && script.length <= this.maxInteractive && !script.includes('#') && isElementOnly(script)) return this.runInteractive(s, script);
    return this.runFile(script);
  }

  /** The processes the long-lived session has started (0 when unused or disabled). */
  get interactiveStarts(): number {
    return this.session?.starts ?? 0;
  }

  close(): void {
    this.session?.close();
    this.writer?.close();
  }

  private elementWriter(): NetlinkElementWriter | undefined {
    if (this.netlinkPrefix === undefined) return undefined;
    if (!this.writer && this.writerFailures < SESSION_GIVE_UP) this.writer = new NetlinkElementWriter({ prefix: this.netlinkPrefix.length ? this.netlinkPrefix : undefined, timeoutMs: Math.min(this.timeoutMs, 10_000) });
    return this.writer;
  }

  /** Runs `nft <args>` (a listing); throws NftError on a non-zero exit. */
  protected async exec(args: readonly string[]): Promise<ExecResult> {
    const r = await execFileInput([...this.argv, ...args], '', this.timeoutMs);
    if (r.code !== 0) throw new NftError(undefined, [], r.stderr || `exit ${r.code}`);
    return r;
  }

  private async runInteractive(s: NftSession, script: string): Promise<void> {
    try {
      await s.run(script);
      this.sessionFailures = 0;
    } catch (e) {
      // nft's own error (a line named) is the script's fault; anything else is the process's.
      if (!(e instanceof NftError) || e.line === undefined) {
        if (++this.sessionFailures >= SESSION_GIVE_UP) {
          this.session = undefined;
          s.close();
          this.log?.warn({ err: e instanceof Error ? e.message : String(e) }, 'nft -i keeps failing; element changes go through nft -f from now on');
        }
      }
      throw e;
    }
  }

  private async runFile(script: string): Promise<void> {
    let r: ExecResult;
    try {
      r = await execFileInput([...this.argv, '-f', '-'], script, this.timeoutMs);
    } catch (e) {
      throw new NftError(undefined, [], String(e), { cause: e });
    }
    if (r.code === 0) {
      // A full sync is usually followed by element changes: have their process ready.
      this.session?.warm();
      return;
    }
    const line = failingLine(r.stderr);
    throw new NftError(line, line === undefined ? [] : contextLines(script, line), r.stderr || `exit ${r.code}`);
  }
}
