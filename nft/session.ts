// One long-lived `nft -i` process: a transaction costs a write to its stdin and the kernel's commit,
// not a process start (8 ms for nsenter alone, ~16 ms for nft -f on a loaded machine). The process is
// started on first use in the namespace argv aims at, one transaction at a time; any failure (nft's
// error, a timeout, the process gone) kills it, and the next transaction starts a new one. It is also
// replaced after `recycleBytes` of input, because nft keeps every line it read in its history.
// Hand-written: no npm package drives nft's interactive mode.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { contextLines } from './exec.js';
import { NftError } from './errors.js';
import { errorColumn, errorLines, failed, joinScript, scriptLineAt, takeReply } from './interactive.js';

export interface NftSessionOptions {
  /** The nft command (e.g. `nsenter --net=… -- nft`); `-i` is appended. */
  readonly argv?: readonly string[];
  /** Bound on each transaction; on expiry the process is killed. Default 30 s. */
  readonly timeoutMs?: number;
  /** Input after which the process is replaced. Default 8 MiB. */
  readonly recycleBytes?: number;
}

interface Pending {
  readonly marker: string;
  readonly done: (output: string | Error) => void;
}

export class NftSession {
  private readonly argv: readonly string[];
  private readonly timeoutMs: number;
  private readonly recycleBytes: number;
  private child: ChildProcessWithoutNullStreams | undefined;
  private buf = '';
  private sent = 0;
  private seq = 0;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Processes started (for tests and logs). */
  starts = 0;

  constructor(o: NftSessionOptions = {}) {
    this.argv = o.argv ?? ['nft'];
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.recycleBytes = o.recycleBytes ?? 8 << 20;
  }

  /** Applies the script as one transaction; throws NftError naming the failing line. */
  run(script: string): Promise<void> {
    const r = this.queue.then(() => this.runOne(script));
    this.queue = r.catch(() => undefined);
    return r;
  }

  /** Starts the process now (if none runs), so that the next transaction does not wait for it. */
  warm(): void {
    if (!this.child) this.start();
  }

  /** Ends the process (it also ends by itself when our side of its stdin closes). */
  close(): void {
    this.stop();
  }

  private async runOne(script: string): Promise<void> {
    const j = joinScript(script);
    if (!j.line) return;
    const child = this.child ?? this.start();
    const marker = `syncmark${process.pid}x${++this.seq}`;
    const input = `${j.line}\n${marker}\n`;
    const output = await new Promise<string | Error>((resolve) => {
      const timer = setTimeout(() => this.fail(new Error(`nft -i gave no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending = {
        marker,
        done: (o) => {
          clearTimeout(timer);
          this.pending = undefined;
          resolve(o);
        },
      };
      child.stdin.write(input);
      this.sent += input.length;
      this.drain();
    });
    if (output instanceof Error) throw new NftError(undefined, [], `nft -i: ${output.message}`, { cause: output });
    if (failed(output)) {
      this.stop();
      const col = errorColumn(output);
      const line = col === undefined ? undefined : scriptLineAt(j, col);
      throw new NftError(line, line === undefined ? [] : contextLines(script, line), `nft -i${line === undefined ? '' : ` (line ${line})`}: ${errorLines(output) || output.trim().slice(0, 2000)}`);
    }
    if (this.sent >= this.recycleBytes) this.stop();
  }

  private start(): ChildProcessWithoutNullStreams {
    // HOME=/dev/null: nft -i reads and writes ~/.nft.history; no history file can exist under it.
    const child = spawn(this.argv[0]!, [...this.argv.slice(1), '-i'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: '/dev/null' } });
    this.child = child;
    this.buf = '';
    this.sent = 0;
    this.starts++;
    child.stdout.resume(); // nothing we send prints there; never let the pipe fill
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (this.child !== child) return;
      this.buf += d;
      this.drain();
    });
    child.stdin.on('error', () => undefined); // reported by 'exit'
    child.on('error', (e) => {
      if (this.child === child) this.fail(e);
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.fail(new Error(`nft -i exited (${signal ?? `code ${code}`})${this.buf ? `: ${this.buf.trim().slice(0, 500)}` : ''}`));
    });
    // An idle session does not keep the daemon's event loop alive.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    return child;
  }

  private drain(): void {
    const p = this.pending;
    if (!p) return;
    const r = takeReply(this.buf, p.marker);
    if (!r) return;
    this.buf = r.rest;
    p.done(r.output);
  }

  private fail(e: Error): void {
    this.stop();
    this.pending?.done(e);
  }

  private stop(): void {
    const c = this.child;
    this.child = undefined;
    this.buf = '';
    if (!c) return;
    c.stdin.end();
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
