// Projected volumes (the kube-api-access-* volume the ServiceAccount admission adds, and any user's): the
// files of each source — a service-account token from the TokenRequest API bound to the pod, keys of
// config maps and secrets, downward API fields — computed (pure), then written into the volume's
// directory atomically as Kubernetes' AtomicWriter does: a new timestamped directory, the `..data`
// symlink swapped to it in one rename, and each file a symlink through `..data`, so a container never
// reads a half-written token. Tokens are cached per pod and audience and fetched again once 80% of
// their lifetime has passed (the kubelet's token manager).
import { lstat, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pod } from '../cluster/index.js';
import { FlannelError } from '../common/index.js';

type Obj = Record<string, unknown>;
const isRec = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: unknown, k: string): string | undefined => (isRec(o) && typeof o[k] === 'string' ? o[k] : undefined);

export class ProjectionError extends FlannelError {
  readonly code = 'PROJECTION';
  override readonly transient = true;
}

export interface TokenRequestArgs {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podName: string;
  readonly podUid: string;
  readonly audience?: string;
  readonly expirationSeconds: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/** Where the sources' data come from; `token` absent: the kubelet cannot get tokens (etcd mode). */
export interface ProjectionSources {
  configMap(ns: string, name: string): Promise<Record<string, string> | undefined>;
  secret(ns: string, name: string): Promise<Record<string, string> | undefined>;
  token?(req: TokenRequestArgs): Promise<IssuedToken>;
}

export interface ProjectedFile {
  readonly data: string;
  readonly mode: number;
}

/** Downward API fields a volume may project (labels and annotations as `key="value"` lines, sorted). */
export function downwardField(pod: Pod, fieldPath: string): string | undefined {
  const m = pod.metadata as Obj;
  const kv = (o: unknown): string =>
    Object.entries(isRec(o) ? o : {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
      .join('\n');
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
      return kv(m.labels);
    case 'metadata.annotations':
      return kv(m.annotations);
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return typeof pod.spec.serviceAccountName === 'string' ? pod.spec.serviceAccountName : '';
    default: {
      const lab = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
      if (lab) {
        const o = m[lab[1]!];
        return isRec(o) && typeof o[lab[2]!] === 'string' ? (o[lab[2]!] as string) : '';
      }
      return undefined;
    }
  }
}

/** A relative path inside the volume: no absolute path, no `..` element (as Kubernetes validates them). */
const safeRelative = (p: string): boolean => p !== '' && !path.isAbsolute(p) && !p.split('/').includes('..') && !p.startsWith('..');

/**
 * The files of one projected volume, fetched from the sources: path → data and mode. A missing config map,
 * secret or key that is not optional, or a token without a token source, is a ProjectionError naming it.
 */
export async function projectedFiles(pod: Pod, projected: Obj, src: ProjectionSources): Promise<Map<string, ProjectedFile>> {
  const ns = pod.metadata.namespace ?? 'default';
  const defaultMode = typeof projected.defaultMode === 'number' ? projected.defaultMode : 0o644;
  const out = new Map<string, ProjectedFile>();
  const put = (p: string, data: string, mode: unknown): void => {
    if (!safeRelative(p)) throw new ProjectionError(`invalid path ${JSON.stringify(p)}: must be relative and may not contain '..'`);
    out.set(p, { data, mode: typeof mode === 'number' ? mode : defaultMode });
  };
  const sources = Array.isArray(projected.sources) ? projected.sources.filter(isRec) : [];
  for (const s of sources) {
    for (const kind of ['configMap', 'secret'] as const) {
      const ref = s[kind];
      if (!isRec(ref)) continue;
      const name = str(ref, 'name') ?? '';
      const optional = ref.optional === true;
      const data = kind === 'configMap' ? await src.configMap(ns, name) : await src.secret(ns, name);
      if (data === undefined) {
        if (optional) continue;
        throw new ProjectionError(`${kind === 'configMap' ? 'configmap' : 'secret'} ${JSON.stringify(name)} not found`);
      }
      const items = Array.isArray(ref.items) ? ref.items.filter(isRec) : undefined;
      if (!items) for (const [k, v] of Object.entries(data)) put(k, v, undefined);
      else
        for (const it of items) {
          const key = str(it, 'key') ?? '';
          if (!(key in data)) {
            if (optional) continue;
            throw new ProjectionError(`${kind === 'configMap' ? 'configmap' : 'secret'} ${JSON.stringify(name)} has no key ${JSON.stringify(key)}`);
          }
          put(str(it, 'path') ?? key, data[key]!, it.mode);
        }
    }
    if (isRec(s.downwardAPI)) {
      for (const it of Array.isArray(s.downwardAPI.items) ? s.downwardAPI.items.filter(isRec) : []) {
        const fieldPath = str(it.fieldRef, 'fieldPath') ?? '';
        const v = downwardField(pod, fieldPath);
        if (v === undefined) throw new ProjectionError(`downwardAPI field ${JSON.stringify(fieldPath)} is not supported by this kubelet`);
        put(str(it, 'path') ?? '', v, it.mode);
      }
    }
    if (isRec(s.serviceAccountToken)) {
      const t = s.serviceAccountToken;
      if (!src.token) throw new ProjectionError('a serviceAccountToken projection needs the kubelet on the API server (--kubeconfig): tokens come from the TokenRequest API, which a kubelet on etcd does not have');
      const sa = typeof pod.spec.serviceAccountName === 'string' && pod.spec.serviceAccountName ? pod.spec.serviceAccountName : 'default';
      const audience = str(t, 'audience');
      const issued = await src.token({
        namespace: ns,
        serviceAccount: sa,
        podName: pod.metadata.name,
        podUid: pod.metadata.uid ?? '',
        ...(audience && { audience }),
        expirationSeconds: typeof t.expirationSeconds === 'number' ? t.expirationSeconds : 3600,
      });
      put(str(t, 'path') ?? 'token', issued.token, undefined);
    }
  }
  return out;
}

/** The kubelet's token manager: one token per pod, account and audience, fetched again past 80% of its life. */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; issuedAtMs: number; expiresAtMs: number }>();

  constructor(
    private readonly fetch: (req: TokenRequestArgs) => Promise<IssuedToken>,
    private readonly now: () => number = Date.now,
  ) {}

  static key(r: TokenRequestArgs): string {
    return `${r.podUid}/${r.namespace}/${r.serviceAccount}/${r.audience ?? ''}/${r.expirationSeconds}`;
  }

  /** Whether a token got at `issued` and good until `expires` is due again at `now`. */
  static refreshDue(issuedAtMs: number, expiresAtMs: number, nowMs: number): boolean {
    return nowMs >= issuedAtMs + 0.8 * (expiresAtMs - issuedAtMs);
  }

  async get(r: TokenRequestArgs): Promise<IssuedToken> {
    const k = TokenCache.key(r);
    const have = this.tokens.get(k);
    const t = this.now();
    if (have && !TokenCache.refreshDue(have.issuedAtMs, have.expiresAtMs, t)) return have;
    const got = await this.fetch(r);
    this.tokens.set(k, { token: got.token, issuedAtMs: t, expiresAtMs: got.expiresAtMs });
    return got;
  }

  /** Milliseconds until the first of this pod's tokens is due (undefined: it has none). */
  nextRefreshIn(podUid: string): number | undefined {
    let best: number | undefined;
    const t = this.now();
    for (const [k, v] of this.tokens) {
      if (!k.startsWith(`${podUid}/`)) continue;
      const due = v.issuedAtMs + 0.8 * (v.expiresAtMs - v.issuedAtMs) - t;
      best = best === undefined ? due : Math.min(best, due);
    }
    return best === undefined ? undefined : Math.max(0, best);
  }

  forgetPod(podUid: string): void {
    for (const k of [...this.tokens.keys()]) if (k.startsWith(`${podUid}/`)) this.tokens.delete(k);
  }
}

const DATA = '..data';

/**
 * The files written into `dir` as one atomic change (AtomicWriter): nothing is rewritten when the files are
 * the same; else a new `..<time>` directory, `..data` swapped to it by a rename, a top-level symlink per
 * file through `..data`, the old directory and the symlinks of files gone removed.
 */
export async function writeProjection(dir: string, files: ReadonlyMap<string, ProjectedFile>, read: (p: string) => Promise<string | undefined>): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  let same = (await lstat(path.join(dir, DATA)).catch(() => undefined)) !== undefined;
  if (same) for (const [p, f] of files) if ((await read(path.join(dir, DATA, p))) !== f.data) same = false;
  const oldTarget = await readlink(path.join(dir, DATA)).catch(() => undefined);
  if (same && oldTarget !== undefined) {
    const old = await listFiles(path.join(dir, oldTarget));
    if (old.length === files.size && old.every((p) => files.has(p))) return false;
  }
  const stamp = `..${new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace(/\..*$/, '')}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const fresh = path.join(dir, stamp);
  await mkdir(fresh, { mode: 0o755 });
  for (const [p, f] of files) {
    await mkdir(path.dirname(path.join(fresh, p)), { recursive: true, mode: 0o755 });
    await writeFile(path.join(fresh, p), f.data, { mode: f.mode & 0o777 });
  }
  const tmp = path.join(dir, `${DATA}_tmp`);
  await rm(tmp, { force: true });
  await symlink(stamp, tmp);
  await rename(tmp, path.join(dir, DATA));
  const tops = new Set([...files.keys()].map((p) => p.split('/')[0]!));
  for (const top of tops) {
    const link = path.join(dir, top);
    if ((await readlink(link).catch(() => undefined)) === path.join(DATA, top)) continue;
    await rm(link, { force: true, recursive: true });
    await symlink(path.join(DATA, top), link);
  }
  for (const e of await readdir(dir)) {
    if (e === DATA || e === stamp || tops.has(e)) continue;
    await rm(path.join(dir, e), { force: true, recursive: true });
  }
  return true;
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, p)));
    else out.push(p);
  }
  return out;
}
