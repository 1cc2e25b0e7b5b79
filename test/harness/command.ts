// One bounded command run whatever its exit code, for tests that assert on how a program fails.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CommandResult {
  /** The exit code; -1 when there is none (killed at the deadline, or not started). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args…` (default deadline 20 s); `env` replaces the environment when given. */
export async function runCommandResult(cmd: string, args: readonly string[], o: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}): Promise<CommandResult> {
  try {
    const r = await run(cmd, [...args], { timeout: o.timeoutMs ?? 20_000, ...(o.env && { env: o.env }) });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
