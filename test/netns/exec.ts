// Bounded command execution for the netns lab. Every command has a time limit and an output cap;
// nothing here changes the namespace of the calling process.
import { spawn } from 'node:child_process';
import { FlannelError } from '../../common/index.js';

export interface ExecResult {
  /** Exit code, or null when the command was ended by a signal (including our own timeout). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly ms: number;
}

export interface ExecOptions {
  /** Hard limit; the command gets SIGKILL when it is reached. Default 10 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A lab command that failed or timed out; carries the argv and what the command printed. */
export class LabError extends FlannelError {
  readonly code = 'LAB';
  constructor(
    readonly op: string,
    readonly argv: readonly string[],
    readonly result: ExecResult | undefined,
    options?: ErrorOptions,
  ) {
    const why = result
      ? result.timedOut
        ? `timed out after ${result.ms} ms`
        : `exit ${result.code ?? result.signal}: ${result.stderr.trim() || result.stdout.trim()}`
      : 'failed';
    super(`${op}: ${argv.join(' ')}: ${why}`, options);
  }
}

const OUTPUT_CAP = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

/** PATH with the sbin directories, where ip, sysctl and tcpdump live, even for a non-login env. */
export function labEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  const parts = (env.PATH ?? '').split(':').filter(Boolean);
  for (const p of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!parts.includes(p)) parts.push(p);
  }
  env.PATH = parts.join(':');
  return env;
}

/** Runs argv (no shell), bounded in time and output. Never rejects: spawn failures come back as code 127. */
export function runCommand(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new RangeError('runCommand: empty argv');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();
  return new Promise<ExecResult>((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(file, args, {
      env: labEnv(opts.env),
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null, extraErr = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: stderr + extraErr, timedOut, ms: Date.now() - started });
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < OUTPUT_CAP) stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < OUTPUT_CAP) stderr += d;
    });
    child.on('error', (e) => finish(127, null, `spawn ${file}: ${e.message}`));
    child.on('close', (code, signal) => finish(code, signal));
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the command may exit before reading its input
      child.stdin.end(opts.input);
    }
  });
}

/** Like runCommand, but a non-zero exit or a timeout throws a LabError. Returns stdout. */
export async function runChecked(op: string, argv: readonly string[], opts?: ExecOptions): Promise<string> {
  const r = await runCommand(argv, opts);
  if (r.code !== 0 || r.timedOut) throw new LabError(op, argv, r);
  return r.stdout;
}
