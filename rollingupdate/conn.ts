// Where the API is, found as kubectl finds it for the plugin (kubectl passes its global flags through
// unparsed): `--kubeconfig FILE`, else every file of `KUBECONFIG` (colon-separated, missing ones skipped,
// merged with the first file's values winning), else ~/.kube/config, else http://localhost:8080 as
// kubectl 1.17 used without one; `--context`, `--server`, `--token`, `--certificate-authority`,
// `--client-certificate`/`--client-key` and `--insecure-skip-tls-verify` override the kubeconfig; the
// namespace is `-n`, else the context's, else `default`.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type ApiConnection, type KubeconfigTarget, loadTarget, parseKubeconfig } from '../cluster/index.js';
import { errorMessage } from '../core/index.js';
import type { ConnectionFlags } from './args.js';
import { RollingUpdateError } from './steps.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// The fields of each named list that hold file paths, resolved against the file they were read from.
const PATH_FIELDS: Readonly<Record<string, { inner: string; fields: readonly string[] }>> = {
  clusters: { inner: 'cluster', fields: ['certificate-authority'] },
  users: { inner: 'user', fields: ['client-certificate', 'client-key', 'tokenFile'] },
  contexts: { inner: 'context', fields: [] },
};

/**
 * Pure: kubeconfig documents → one, as kubectl merges KUBECONFIG's files: the first file that sets
 * `current-context` wins, and of entries with the same name in `clusters`, `users` and `contexts` the
 * first one's. Relative paths are made absolute against their own file's directory first.
 */
export function mergeKubeconfigs(docs: readonly { readonly file: string; readonly doc: unknown }[]): Obj {
  const out: Obj = { apiVersion: 'v1', kind: 'Config' };
  const lists: Record<string, Obj[]> = { clusters: [], users: [], contexts: [] };
  for (const { file, doc } of docs) {
    if (!isObj(doc)) continue;
    if (out['current-context'] === undefined && typeof doc['current-context'] === 'string' && doc['current-context'] !== '') out['current-context'] = doc['current-context'];
    for (const [list, { inner, fields }] of Object.entries(PATH_FIELDS)) {
      const entries = doc[list];
      if (!Array.isArray(entries)) continue;
      for (const e of entries) {
        if (!isObj(e) || typeof e.name !== 'string' || lists[list]!.some((x) => x.name === e.name)) continue;
        const body = isObj(e[inner]) ? { ...e[inner] } : e[inner];
        if (isObj(body)) for (const f of fields) if (typeof body[f] === 'string' && body[f] !== '') body[f] = path.resolve(path.dirname(file), body[f]);
        lists[list]!.push({ ...e, [inner]: body });
      }
    }
  }
  return { ...out, ...lists };
}

/** Pure: which kubeconfig files kubectl would read, before looking at the disk. */
export function kubeconfigCandidates(flag: string | undefined, env: string | undefined, home: string | undefined): { files: string[]; explicit: boolean } {
  if (flag) return { files: [flag], explicit: true };
  if (env) return { files: env.split(path.delimiter).filter(Boolean), explicit: false };
  return { files: home ? [path.join(home, '.kube', 'config')] : [], explicit: false };
}

/** Pure: the kubeconfig's target with the flags laid over it. */
export function applyOverrides(t: KubeconfigTarget | undefined, f: ConnectionFlags): KubeconfigTarget {
  const base: KubeconfigTarget = t ?? { context: '', server: 'http://localhost:8080', insecureSkipTlsVerify: false };
  const server = f.server ? (/^https?:\/\//.test(f.server) ? f.server : `https://${f.server}`).replace(/\/+$/, '') : base.server;
  return {
    ...base,
    server,
    ...(f.token && { token: f.token }),
    ...(f.certificateAuthority && { ca: { file: path.resolve(f.certificateAuthority) } }),
    ...(f.clientCertificate && { cert: { file: path.resolve(f.clientCertificate) } }),
    ...(f.clientKey && { key: { file: path.resolve(f.clientKey) } }),
    ...(f.insecureSkipTlsVerify !== undefined && { insecureSkipTlsVerify: f.insecureSkipTlsVerify }),
  };
}

export interface Resolved {
  readonly conn: ApiConnection;
  readonly namespace: string;
  /** The server, for the messages that name it. */
  readonly server: string;
}

const exists = (f: string) => stat(f).then(
  () => true,
  () => false,
);

/** Reads the kubeconfig files and the files they name; throws RollingUpdateError or KubeconfigError. */
export async function resolveConnection(f: ConnectionFlags, env: NodeJS.ProcessEnv): Promise<Resolved> {
  const cand = kubeconfigCandidates(f.kubeconfig, env.KUBECONFIG, env.HOME);
  if (cand.explicit && !(await exists(cand.files[0]!))) throw new RollingUpdateError(`stat ${cand.files[0]}: no such file or directory`);
  const docs: { file: string; doc: unknown }[] = [];
  for (const file of cand.files) {
    if (!(await exists(file))) continue;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new RollingUpdateError(`error loading config file "${file}": ${errorMessage(e)}`);
    }
    try {
      docs.push({ file, doc: parseYaml(text) });
    } catch (e) {
      throw new RollingUpdateError(`error loading config file "${file}": ${errorMessage(e)}`);
    }
  }
  let target: KubeconfigTarget | undefined;
  const file = docs[0]?.file ?? '';
  if (docs.length) {
    const merged = mergeKubeconfigs(docs);
    // Without a context a --server alone still says where to go, as with kubectl.
    if (merged['current-context'] !== undefined || f.context !== undefined || !f.server) target = parseKubeconfig(stringifyYaml(merged), file, f.context);
  }
  const t = applyOverrides(target, f);
  return { conn: await loadTarget(t, file), namespace: f.namespace ?? t.namespace ?? 'default', server: t.server };
}
