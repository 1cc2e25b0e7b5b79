// The edge to the kernel: `nft -f -` (one transaction per call) and a listing of our table's chains.
// The proxy runs nft in its own network namespace; `argv` lets a benchmark aim it at a lab
// namespace (`nsenter --net=<path> -- nft`), never at the caller's.
import { spawn } from 'node:child_process';
import { nftFamily, TABLE } from './ruleset.js';
import { NftError } from './types.js';

export interface NftPort {
  /** Applies the script as one transaction; throws NftError with the failing line. */
  run(script: string): Promise<void>;
  /** The names of the chains in our table (none when it does not exist). */
  /** The chains of our table of that family (default ip). */
  listChains(family?: 4 | 6): Promise<string[]>;
}

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

export class NftCli implements NftPort {
  private readonly argv: readonly string[];
  private readonly timeoutMs: number;
  constructor(o: { argv?: readonly string[]; timeoutMs?: number } = {}) {
    this.argv = o.argv ?? ['nft'];
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  async run(script: string): Promise<void> {
    if (!script) return;
    let r: ExecResult;
    try {
      r = await execFileInput([...this.argv, '-f', '-'], script, this.timeoutMs);
    } catch (e) {
      throw new NftError(undefined, [], String(e), { cause: e });
    }
    if (r.code === 0) return;
    const line = failingLine(r.stderr);
    throw new NftError(line, line === undefined ? [] : contextLines(script, line), r.stderr || `exit ${r.code}`);
  }

  async listChains(family: 4 | 6 = 4): Promise<string[]> {
    const r = await execFileInput([...this.argv, '-j', 'list', 'chains', nftFamily(family)], '', this.timeoutMs);
    if (r.code !== 0) throw new NftError(undefined, [], r.stderr || `exit ${r.code}`);
    const j = JSON.parse(r.stdout || '{"nftables":[]}') as { nftables?: { chain?: { table: string; name: string } }[] };
    return (j.nftables ?? []).flatMap((o) => (o.chain && o.chain.table === TABLE ? [o.chain.name] : []));
  }
}
