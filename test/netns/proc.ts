// A long-running child process that the lab tracks by PID, so destroy() can end it even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError, labEnv } from './exec.js';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started or waited for. */
  readonly error?: string;
}

export interface SpawnOptions {
  /** Added to the lab's environment (PATH already includes the sbin directories). */
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr are appended; default `<endpoint dir>/<argv0>-<n>.log`. */
  logFile?: string;
  cwd?: string;
}

/** Output kept in memory per stream (the tail); the log file has everything. */
const TAIL_CAP = 1024 * 1024;

export class Proc {
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  private info: ExitInfo | undefined;
  private out = '';
  private err = '';
  private readonly log: WriteStream;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly argv: readonly string[],
    readonly logFile: string,
    opts: Pick<SpawnOptions, 'env' | 'cwd'> = {},
  ) {
    const [file, ...args] = argv;
    if (file === undefined) throw new RangeError('Proc: empty argv');
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.log.on('error', () => undefined); // the lab dir may be removed while output still arrives
    // detached: the child leads its own process group, so the lab can also end what it forks.
    const child: ChildProcess = spawn(file, args, {
      env: labEnv(opts.env),
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      child.on('error', () => undefined);
      this.log.end();
      throw new LabError('spawn', argv, undefined);
    }
    this.pid = child.pid;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => this.onData('out', d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => this.onData('err', d));
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.info) return;
        this.info = info;
        resolve(info);
        this.notify();
      };
      child.on('error', (e) => done({ code: null, signal: null, error: e.message }));
      child.on('exit', (code, signal) => done({ code, signal }));
      // End the log when the pipes close (which may be later than exit if the child forked).
      child.on('close', () => this.log.end());
    });
  }

  /** The exit status, once the process has exited. */
  get exitInfo(): ExitInfo | undefined {
    return this.info;
  }

  get running(): boolean {
    return this.info === undefined;
  }

  /** The tail of what the process printed on stdout / stderr. */
  stdout(): string {
    return this.out;
  }
  stderr(): string {
    return this.err;
  }

  /** Sends a signal to the process (not its group). False if it has already exited or is gone. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.info) return false;
    return trySignal(this.pid, signal);
  }

  /** Sends a signal to the process group the child leads (the child and whatever it forked). */
  killGroup(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    const group = trySignal(-this.pid, signal);
    return this.kill(signal) || group;
  }

  /** The exit status, or undefined if the process is still running after timeoutMs. */
  async wait(timeoutMs: number): Promise<ExitInfo | undefined> {
    if (this.info) return this.info;
    const ac = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: ac.signal }).catch(() => undefined);
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      ac.abort();
    }
  }

  /** SIGTERM to the group, then SIGKILL after graceMs. Returns the exit status (undefined only if unkillable). */
  async stop(graceMs = 3000): Promise<ExitInfo | undefined> {
    if (this.info) return this.info;
    this.killGroup('SIGTERM');
    const first = await this.wait(graceMs);
    if (first) {
      trySignal(-this.pid, 'SIGKILL'); // leftovers in its group
      return first;
    }
    this.killGroup('SIGKILL');
    return this.wait(2000);
  }

  /**
   * Waits until stdout or stderr (as selected) matches re; returns the matching text's stream tail.
   * Rejects with a LabError on timeout or if the process exits first.
   */
  async waitForOutput(re: RegExp, timeoutMs: number, stream: 'out' | 'err' | 'both' = 'both'): Promise<string> {
    const text = (): string => (stream === 'out' ? this.out : stream === 'err' ? this.err : `${this.out}\n${this.err}`);
    const deadline = Date.now() + timeoutMs;
    // Bounded: each iteration waits for new output, exit, or the deadline.
    for (let i = 0; i < 100_000; i++) {
      const t = text();
      if (re.test(t)) return t;
      const left = deadline - Date.now();
      if (this.info || left <= 0) break;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
    if (re.test(text())) return text();
    throw new LabError(`waitForOutput ${re}`, this.argv, {
      code: this.info?.code ?? null,
      signal: this.info?.signal ?? null,
      stdout: this.out.slice(-2000),
      stderr: this.err.slice(-2000),
      timedOut: !this.info,
      ms: timeoutMs,
    });
  }

  private onData(which: 'out' | 'err', d: string): void {
    this.log.write(d);
    if (which === 'out') this.out = (this.out + d).slice(-TAIL_CAP);
    else this.err = (this.err + d).slice(-TAIL_CAP);
    this.notify();
  }

  private notify(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** process.kill that reports success instead of throwing (ESRCH: already gone). */
export function trySignal(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True if a process with this PID exists (EPERM counts as alive). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
