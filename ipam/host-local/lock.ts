// An exclusive flock(2) on a file, from Node, without native code. We open the file ourselves and
// hand the descriptor to util-linux `flock -x <fd>` as its fd 3: flock(1) locks that open file
// description and exits, and since a flock belongs to the open file description, which our
// process still holds, the lock stays ours until we close the file, or until this process dies
// for any reason (the kernel closes it then, so a crashed plugin never leaves the lock held).
// It is the same lock the Go host-local takes on `<dataDir>/<network>/lock`, so our plugin and
// Debian's can share a data directory. One short-lived helper process per lock; bounded by a timeout.
import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { LockTimeoutError, StoreError } from './errors.js';

/** flock(1)'s exit status when the -w timeout passes (we choose it with -E). */
const TIMEOUT_EXIT = 75;
const FLOCK = existsSync('/usr/bin/flock') ? '/usr/bin/flock' : 'flock';

export interface FileLock {
  /** Drops the lock (closes our descriptor). Idempotent. */
  release(): Promise<void>;
}

export async function lockFile(path: string, timeoutMs: number): Promise<FileLock> {
  const fh = await open(path, constants.O_RDONLY | constants.O_CREAT, 0o644).catch((e: unknown) => {
    throw new StoreError('open lock', path, e instanceof Error ? e.message : String(e), { cause: e });
  });
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const seconds = (Math.max(1, timeoutMs) / 1000).toFixed(3);
      const child = spawn(FLOCK, ['--exclusive', '--timeout', seconds, '--conflict-exit-code', String(TIMEOUT_EXIT), '3'], {
        stdio: ['ignore', 'ignore', 'pipe', fh.fd],
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        if (stderr.length < 4096) stderr += d;
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    if (code === TIMEOUT_EXIT) throw new LockTimeoutError(path, timeoutMs);
    if (code !== 0) throw new StoreError('flock', path, `flock(1) exited ${code}: ${stderr.trim()}`);
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof LockTimeoutError || e instanceof StoreError) throw e;
    throw new StoreError('flock', path, `cannot run flock(1) from util-linux: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await fh.close();
    },
  };
}
