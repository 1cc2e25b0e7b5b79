// Files that readers must never see half-written (subnet.env, docker opts, the CNI plugin's saved netconf,
// static pod manifests): written beside the target and renamed over it.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let tmpSeq = 0;

/**
 * Writes a temp file beside the target (a name no other writer uses, created exclusively, with `mode` less
 * the umask, as Go's os.WriteFile), fsyncs it, renames it over the target and fsyncs the directory, so after
 * a crash the file is either the old one or the new one. Creates the directory if needed; on failure no temp
 * file is left behind.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  // pid and time keep other processes (and a crashed one's leftovers) apart, the counter this process's writers.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.${++tmpSeq}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

// Best effort: the rename is already done and visible; some file systems refuse fsync on a directory
// (EINVAL), and failing the write for that would report a file that is in place as not written.
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}
