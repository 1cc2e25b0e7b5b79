// Where the kubelet's desired pods come from, and the cluster objects it reads.
//
// - the cluster store: every pod under /registry/pods/ whose spec.nodeName is this node (on the API,
//   the server selects them with fieldSelector spec.nodeName; etcd has no index, so there the kubelet
//   watches the whole prefix; it filters either way; mirror pods of static pods are skipped, they are
//   outputs). A pod without metadata.uid (etcd only) gets one, as an API server would.
// - files: static pods from --pod-manifest-path (a directory of YAML/JSON files, or one file), read
//   at start and again on change (fs.watch plus a periodic re-read, since fs.watch misses changes on
//   some file systems). A static pod is named `<name>-<node>`, its UID is a hash of its content and
//   the node, so it is stable across kubelet restarts and changes when the file does.
// - services: a watched cache of /registry/services/specs/, for the service environment variables.
// Each source reports `synced` after its first complete listing: nothing is started or killed before
// every source has synced (STYLE 3.7: never act on a partial view).
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type ClusterStore, type Corrupt, type ListOptions, type Parser, type Pod, prefixSource, REGISTRY, type Service, type Stored, keys, namespacedName } from '../cluster/index.js';
import { type Logger, PrefixCache, errorMessage, isObject, sleep } from '../common/index.js';
import { DEFAULT_NAMESPACE, InvalidPodError, jsonHash, uidFromHash, validatePod } from './spec.js';

/** What the kubelet reads and writes: cluster's one store interface (etcd or the API). */
export type { ClusterStore } from '../cluster/index.js';

export const ANNOTATIONS = {
  mirror: 'kubernetes.io/config.mirror',
  source: 'kubernetes.io/config.source',
  hash: 'kubernetes.io/config.hash',
} as const;

type Json = Record<string, unknown>;

/** A prefix of the cluster store kept in memory (list, then watch; see common/prefix-cache.ts). */
export type StoreCache<T> = PrefixCache<Stored<T>, Corrupt>;

/** `select`: narrowed by the API server when the store is the API (see cluster's ListOptions); callers still filter. */
export function storeCache<T>(store: ClusterStore, prefix: string, parse: Parser<T>, log: Logger, onChange: (changed: ReadonlySet<string>) => void, select?: ListOptions): StoreCache<T> {
  return new PrefixCache<Stored<T>, Corrupt>(prefixSource(store, parse, select), { prefix, log }, onChange);
}

/** The services of one namespace, from the services cache. */
export function servicesIn(cache: StoreCache<Service>, ns: string): Service[] {
  const prefix = keys.services(ns);
  const out: Service[] = [];
  for (const [k, s] of cache.items) if (k.startsWith(prefix) && isObject(s.obj.spec)) out.push(s.obj);
  return out;
}

// ---------------------------------------------------------------- pods from etcd

/** A pod of this node as read from etcd: valid and typed, or invalid with the reason. */
export type ApiPod =
  | { readonly kind: 'valid'; readonly key: string; readonly pod: Pod; readonly modRevision: string }
  | { readonly kind: 'invalid'; readonly key: string; readonly raw: Json; readonly error: InvalidPodError; readonly modRevision: string };

/** Is this etcd pod ours to run? (spec.nodeName is this node, and it is not a mirror pod.) */
export function apiPodFor(node: string, s: Stored<unknown>): ApiPod | undefined {
  const raw = s.obj;
  if (!isObject(raw)) return undefined;
  const spec = raw.spec;
  const meta = raw.metadata;
  if (!isObject(spec) || spec.nodeName !== node) return undefined;
  if (isObject(meta) && isObject(meta.annotations) && typeof meta.annotations[ANNOTATIONS.mirror] === 'string') return undefined;
  try {
    const pod = validatePod(raw);
    const nn = namespacedName(`${REGISTRY}/pods/`, s.key);
    if (nn && (nn[0] !== (pod.metadata.namespace ?? DEFAULT_NAMESPACE) || nn[1] !== pod.metadata.name)) {
      throw new InvalidPodError('metadata', `${pod.metadata.namespace ?? DEFAULT_NAMESPACE}/${pod.metadata.name}`, `does not match its key ${s.key}`);
    }
    return { kind: 'valid', key: s.key, pod, modRevision: s.modRevision };
  } catch (e) {
    if (e instanceof InvalidPodError) return { kind: 'invalid', key: s.key, raw, error: e, modRevision: s.modRevision };
    throw e;
  }
}

// ---------------------------------------------------------------- static pods from files

export interface StaticPod {
  readonly file: string;
  readonly pod: Pod;
  /** The mirror pod's key in etcd. */
  readonly key: string;
}

/**
 * The pods of one manifest file (YAML with one or more documents, or JSON), with the static pod
 * defaults applied; throws InvalidPodError (path prefixed with the document index) or a parse error.
 */
export function parseManifest(text: string, file: string, node: string): Pod[] {
  const docs = parseAllDocuments(text);
  const out: Pod[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length) throw new InvalidPodError(`document ${i}`, undefined, d.errors[0]!.message);
    const raw: unknown = d.toJS();
    if (raw === null || raw === undefined) return;
    let pod: Pod;
    try {
      pod = validatePod(raw);
    } catch (e) {
      if (e instanceof InvalidPodError && docs.length > 1) throw new InvalidPodError(`document ${i}: ${e.path}`, e.value, e.reason);
      throw e;
    }
    const ns = pod.metadata.namespace || DEFAULT_NAMESPACE;
    const name = `${pod.metadata.name}-${node}`;
    const hash = jsonHash({ pod: raw, node, file: path.basename(file) });
    out.push({
      ...pod,
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...pod.metadata,
        name,
        namespace: ns,
        uid: pod.metadata.uid ?? uidFromHash(hash),
        annotations: { ...pod.metadata.annotations, [ANNOTATIONS.source]: 'file', [ANNOTATIONS.hash]: hash.slice(0, 32) },
      },
      spec: { ...pod.spec, nodeName: node },
    });
  });
  return out;
}

export class StaticPodSource {
  /** file → its pods (a file that stops parsing keeps its last good pods, with a warning). */
  readonly pods = new Map<string, StaticPod[]>();
  synced = false;
  private readonly mtimes = new Map<string, number>();

  constructor(
    private readonly dir: string | undefined,
    private readonly node: string,
    private readonly everyMs: number,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  all(): StaticPod[] {
    return [...this.pods.values()].flat();
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!this.dir) {
      this.synced = true;
      this.onChange();
      return;
    }
    let watcher: FSWatcher | undefined;
    let poke: () => void = () => undefined;
    try {
      watcher = fsWatch(this.dir, { persistent: false }, () => poke());
      watcher.on('error', () => undefined);
    } catch {
      // the path may not exist yet: the periodic read covers it
    }
    try {
      while (!signal.aborted) {
        await this.read();
        const wake = new AbortController();
        poke = () => wake.abort();
        await sleep(this.everyMs, AbortSignal.any([signal, wake.signal]));
        if (wake.signal.aborted) await sleep(100, signal); // let an editor finish writing
      }
    } finally {
      watcher?.close();
    }
  }

  /** Re-reads the manifests; calls onChange when any pod appeared, changed or went away. */
  async read(): Promise<void> {
    const dir = this.dir!;
    let files: string[];
    try {
      const st = await stat(dir);
      files = st.isDirectory()
        ? (await readdir(dir)).filter((f) => !f.startsWith('.') && /\.(ya?ml|json)$/i.test(f)).sort().map((f) => path.join(dir, f))
        : [dir];
    } catch (e) {
      files = [];
      if (!this.synced) this.log.warn({ path: dir, err: errorMessage(e) }, 'pod manifest path is not readable');
    }
    let changed = !this.synced;
    const seen = new Set(files);
    for (const f of [...this.pods.keys()]) {
      if (!seen.has(f)) {
        this.pods.delete(f);
        this.mtimes.delete(f);
        changed = true;
      }
    }
    for (const f of files) {
      let st;
      try {
        st = await stat(f);
      } catch {
        continue;
      }
      if (this.mtimes.get(f) === st.mtimeMs) continue;
      this.mtimes.set(f, st.mtimeMs);
      try {
        const pods = parseManifest(await readFile(f, 'utf8'), f, this.node).map((pod) => ({ file: f, pod, key: keys.pod(pod.metadata.namespace!, pod.metadata.name) }));
        const before = JSON.stringify(this.pods.get(f) ?? []);
        this.pods.set(f, pods);
        if (JSON.stringify(pods) !== before) changed = true;
      } catch (e) {
        const fields = e instanceof InvalidPodError ? { path: e.path, reason: e.reason } : { reason: errorMessage(e) };
        this.log.warn({ file: f, ...fields }, 'static pod manifest is invalid; keeping its last good version');
      }
    }
    this.synced = true;
    if (changed) this.onChange();
  }
}
