// host-local's on-disk store, file for file the Go plugin's (so either plugin can take over a data
// directory): `<dataDir>/<network>/<ip>` holds `<containerID>\r\n<ifname>`, `last_reserved_ip.<n>`
// holds the last address reserved in range set n, and `lock` is flock(2)ed around each operation.
//
// Why this is correct under many concurrent ADDs: the reservation itself is an O_CREAT|O_EXCL
// create of the address's file, which the file system performs atomically, so two plugins can never
// both get one address, with or without the lock. The directory lock (held for the whole ADD, DEL
// or CHECK) adds what O_EXCL alone cannot: the duplicate-allocation check and the reservation are
// one step, `last_reserved_ip` moves forward in order, and a DEL's scan never races an ADD of the
// same container. Waiting for the lock is bounded (LockTimeoutError, CNI "try again later").
// Within one process (the CNI daemon serves many requests at once) the holders of one directory
// also queue in memory before taking the flock, so that at most one flock(1) helper per directory
// waits in the kernel instead of one per request.
import { mkdir, open, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type IpAddr, formatIp, isIp, parseIp } from '../../core/index.js';
import { LockTimeoutError, StoreError } from './errors.js';
import { lockFile } from './lock.js';
import type { LockedStore } from './store.js';

export const LAST_IP_FILE_PREFIX = 'last_reserved_ip.';
export const LINE_BREAK = '\r\n';
export const LOCK_FILE = 'lock';
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
/** Files read at once while scanning the directory. */
const SCAN_CONCURRENCY = 32;

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const errCode = (e: unknown): string | undefined => (e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined);

/** This process's queue per store directory: the promise the last holder resolves when done. */
const queues = new Map<string, Promise<void>>();

/** Resolves when `p` does, or rejects after `ms`. */
async function within(p: Promise<void>, ms: number, onTimeout: () => Error): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface DiskStoreOptions {
  readonly lockTimeoutMs?: number;
}

export class DiskStore implements LockedStore {
  private constructor(
    /** `<dataDir>/<network>` */
    readonly dir: string,
    private readonly lockTimeoutMs: number,
  ) {}

  /** Opens (creating if needed) the store of `network` under `dataDir`. */
  static async open(network: string, dataDir: string, opts: DiskStoreOptions = {}): Promise<DiskStore> {
    if (network === '' || network === '.' || network === '..' || network.includes('/')) {
      throw new StoreError('open', dataDir, `network name ${JSON.stringify(network)} cannot name a directory`);
    }
    const dir = path.join(dataDir, network);
    await mkdir(dir, { recursive: true, mode: 0o755 }).catch((e: unknown) => {
      throw new StoreError('mkdir', dir, errText(e), { cause: e });
    });
    return new DiskStore(dir, opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lockPath = path.join(this.dir, LOCK_FILE);
    const before = queues.get(this.dir) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    queues.set(this.dir, mine);
    const t0 = Date.now();
    try {
      await within(before, this.lockTimeoutMs, () => new LockTimeoutError(lockPath, this.lockTimeoutMs));
      const lock = await lockFile(lockPath, Math.max(1, this.lockTimeoutMs - (Date.now() - t0)));
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    } finally {
      // Whoever queued behind us still waits for `before` too: giving up early keeps the order.
      void before.then(() => done());
      if (queues.get(this.dir) === mine) void mine.then(() => queues.get(this.dir) === mine && queues.delete(this.dir));
    }
  }

  async reserve(id: string, ifname: string, ip: IpAddr, rangeId: string): Promise<boolean> {
    const file = path.join(this.dir, formatIp(ip));
    let fh;
    try {
      fh = await open(file, 'wx', 0o600); // O_WRONLY|O_CREAT|O_EXCL: the atomic test-and-set
    } catch (e) {
      if (errCode(e) === 'EEXIST') return false;
      throw new StoreError('reserve', file, errText(e), { cause: e });
    }
    try {
      await fh.writeFile(`${id.trim()}${LINE_BREAK}${ifname}`);
      await fh.close();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw new StoreError('reserve', file, errText(e), { cause: e });
    }
    const last = path.join(this.dir, LAST_IP_FILE_PREFIX + rangeId);
    await writeFile(last, formatIp(ip), { mode: 0o600 }).catch((e: unknown) => {
      throw new StoreError('write', last, errText(e), { cause: e });
    });
    return true;
  }

  async lastReserved(rangeId: string): Promise<IpAddr | undefined> {
    try {
      const text = (await readFile(path.join(this.dir, LAST_IP_FILE_PREFIX + rangeId), 'utf8')).trim();
      return isIp(text) ? parseIp(text) : undefined;
    } catch {
      return undefined; // missing or unreadable: round-robin restarts at the range start
    }
  }

  async getById(id: string, ifname: string): Promise<IpAddr[]> {
    const full = `${id.trim()}${LINE_BREAK}${ifname}`;
    return (await this.entries()).filter((e) => e.owner === full || e.owner === id.trim()).map((e) => e.ip);
  }

  async releaseById(id: string, ifname: string): Promise<IpAddr[]> {
    const released: IpAddr[] = [];
    for (const m of await this.matching(id, ifname)) {
      try {
        await unlink(m.file);
        released.push(m.ip);
      } catch (e) {
        if (errCode(e) !== 'ENOENT') throw new StoreError('release', m.file, errText(e), { cause: e });
      }
    }
    return released;
  }

  /** Every reservation file, with its owner line(s). */
  async entries(): Promise<{ ip: IpAddr; file: string; owner: string }[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter(isIp);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return [];
      throw new StoreError('scan', this.dir, errText(e), { cause: e });
    }
    const out: { ip: IpAddr; file: string; owner: string }[] = [];
    for (let i = 0; i < names.length; i += SCAN_CONCURRENCY) {
      const batch = names.slice(i, i + SCAN_CONCURRENCY);
      const read = await Promise.all(
        batch.map(async (name) => {
          const file = path.join(this.dir, name);
          const owner = await readFile(file, 'utf8').catch(() => undefined); // vanished meanwhile: not ours
          return owner === undefined ? undefined : { ip: parseIp(name), file, owner: owner.trim() };
        }),
      );
      for (const r of read) if (r) out.push(r);
    }
    return out;
  }

  /**
   * Files owned by (id, ifname); when there are none, files owned by `id` alone (written before the
   * ifname was recorded), as the Go plugin's release falls back.
   */
  private async matching(id: string, ifname: string): Promise<{ ip: IpAddr; file: string }[]> {
    const all = await this.entries();
    const full = `${id.trim()}${LINE_BREAK}${ifname}`;
    const exact = all.filter((e) => e.owner === full);
    return exact.length > 0 ? exact : all.filter((e) => e.owner === id.trim());
  }
}
