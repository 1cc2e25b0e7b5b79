// One process per call: argv run with its input on stdin, bounded in time; and the reading of what
// `nft -f -` says about a failing line.
import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv with `input` on stdin, bounded by `timeoutMs` (then SIGKILL). */
export function execFileInput(argv: readonly string[], input: string, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => undefined); // nft may exit before reading everything
    child.stdin.end(input);
  });
}

/** The script lines around a failing line (1-based), each prefixed with its number. */
export function contextLines(script: string, line: number, around = 2): string[] {
  const lines = script.split('\n');
  const from = Math.max(1, line - around);
  const to = Math.min(lines.length, line + around);
  const out: string[] = [];
  for (let i = from; i <= to; i++) {
    const l = lines[i - 1]!;
    out.push(`${i === line ? '>' : ' '}${i}: ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`);
  }
  return out;
}

/** The line nft complains about (`/dev/stdin:12:5-9: Error: …`), if it names one. */
export function failingLine(stderr: string): number | undefined {
  const m = /(?:\/dev\/stdin|-):(\d+):\d+/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}
