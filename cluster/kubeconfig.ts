// A kubeconfig file as kubectl reads it, reduced to what a client of one cluster needs: the current
// context's server, how to trust it, and who we are. Parsed by hand on top of the `yaml` library
// (a client library such as @kubernetes/client-node would pull in dozens of dependencies for these
// few fields). Relative file paths are relative to the kubeconfig's directory, as kubectl resolves them.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { errorMessage, FlannelError } from '../common/index.js';

export class KubeconfigError extends FlannelError {
  readonly code = 'KUBECONFIG';
  constructor(
    readonly file: string,
    /** The field at fault (`users[0].user.client-key`), or undefined when the file itself is. */
    readonly field: string | undefined,
    readonly reason: string,
  ) {
    super(`kubeconfig ${file}${field ? `: ${field}` : ''}: ${reason}`);
  }
}

/** Bytes inline (`…-data`, base64 in the file) or a file to read. */
export type Material = { readonly data: Buffer } | { readonly file: string };

/** What the current context says, files not read yet. */
export interface KubeconfigTarget {
  readonly context: string;
  readonly server: string;
  readonly ca?: Material;
  readonly insecureSkipTlsVerify: boolean;
  readonly cert?: Material;
  readonly key?: Material;
  readonly token?: string;
  readonly tokenFile?: string;
  /** The context's namespace, when it names one (kubectl's default for namespaced requests). */
  readonly namespace?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Pure: the kubeconfig's text → the current (or named) context's target; throws KubeconfigError. */
export function parseKubeconfig(text: string, file: string, contextName?: string): KubeconfigTarget {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new KubeconfigError(file, undefined, `not YAML: ${errorMessage(e)}`);
  }
  if (!isObj(doc)) throw new KubeconfigError(file, undefined, 'not a kubeconfig (expected a mapping)');
  const dir = path.dirname(file);
  const named = (list: string, name: string, inner: string): { obj: Obj; field: string } => {
    const arr = doc[list];
    if (!Array.isArray(arr)) throw new KubeconfigError(file, list, 'missing');
    const i = arr.findIndex((e) => isObj(e) && e.name === name);
    if (i < 0) throw new KubeconfigError(file, list, `has no entry named "${name}"`);
    const o = (arr[i] as Obj)[inner];
    if (!isObj(o)) throw new KubeconfigError(file, `${list}[${i}].${inner}`, 'missing');
    return { obj: o, field: `${list}[${i}].${inner}` };
  };
  const str = (o: Obj, k: string, field: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new KubeconfigError(file, `${field}.${k}`, 'must be a string');
    return v;
  };
  const material = (o: Obj, k: string, field: string): Material | undefined => {
    const data = str(o, `${k}-data`, field);
    if (data !== undefined) {
      if (!/^[A-Za-z0-9+/=\s]+$/.test(data)) throw new KubeconfigError(file, `${field}.${k}-data`, 'is not base64');
      return { data: Buffer.from(data, 'base64') };
    }
    const f = str(o, k, field);
    return f === undefined ? undefined : { file: path.resolve(dir, f) };
  };

  const ctxName = contextName ?? (typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined);
  if (!ctxName) throw new KubeconfigError(file, 'current-context', 'missing');
  const ctx = named('contexts', ctxName, 'context');
  const clusterName = str(ctx.obj, 'cluster', ctx.field);
  if (!clusterName) throw new KubeconfigError(file, `${ctx.field}.cluster`, 'missing');
  const cluster = named('clusters', clusterName, 'cluster');
  const server = str(cluster.obj, 'server', cluster.field);
  if (!server) throw new KubeconfigError(file, `${cluster.field}.server`, 'missing');
  if (!/^https?:\/\/[^/]+/.test(server)) throw new KubeconfigError(file, `${cluster.field}.server`, `must be an http:// or https:// URL (got "${server}")`);
  const skip = cluster.obj['insecure-skip-tls-verify'];
  if (skip !== undefined && typeof skip !== 'boolean') throw new KubeconfigError(file, `${cluster.field}.insecure-skip-tls-verify`, 'must be true or false');

  const userName = str(ctx.obj, 'user', ctx.field);
  const user = userName ? named('users', userName, 'user') : undefined;
  const u = user?.obj ?? {};
  const uf = user?.field ?? 'users';
  const cert = material(u, 'client-certificate', uf);
  const key = material(u, 'client-key', uf);
  if ((cert === undefined) !== (key === undefined)) throw new KubeconfigError(file, `${uf}.${cert ? 'client-key' : 'client-certificate'}`, 'missing: a client certificate needs its key');
  const token = str(u, 'token', uf);
  const tokenFile = str(u, 'tokenFile', uf);
  const ca = material(cluster.obj, 'certificate-authority', cluster.field);
  const namespace = str(ctx.obj, 'namespace', ctx.field);
  return {
    context: ctxName,
    server: server.replace(/\/+$/, ''),
    insecureSkipTlsVerify: skip === true,
    ...(ca && { ca }),
    ...(cert && { cert }),
    ...(key && { key }),
    ...(token !== undefined && { token }),
    ...(tokenFile !== undefined && { tokenFile: path.resolve(dir, tokenFile) }),
    ...(namespace !== undefined && { namespace }),
  };
}

/** How to connect, files read: what ApiClient takes. */
export interface ApiConnection {
  /** Base URLs, tried in order (the first that answers is kept). */
  readonly servers: readonly string[];
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  /** The token's file, read again (at most once a minute) for a token that rotates; `token` is its first read. */
  readonly tokenFile?: string;
  readonly insecureSkipTlsVerify?: boolean;
}

/** Reads the kubeconfig and every file it names; throws KubeconfigError naming the field whose file is unreadable. */
export async function loadKubeconfig(file: string, contextName?: string): Promise<ApiConnection> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new KubeconfigError(file, undefined, `cannot be read: ${errorMessage(e)}`);
  }
  return loadTarget(parseKubeconfig(text, file, contextName), file);
}

/** Reads the files a parsed target names (`file`: the kubeconfig, for the errors); throws KubeconfigError. */
export async function loadTarget(t: KubeconfigTarget, file: string): Promise<ApiConnection> {
  const load = async (m: Material | undefined, field: string): Promise<Buffer | undefined> => {
    if (!m) return undefined;
    if ('data' in m) return m.data;
    try {
      return await readFile(m.file);
    } catch (e) {
      throw new KubeconfigError(file, field, `cannot read ${m.file}: ${errorMessage(e)}`);
    }
  };
  const [ca, cert, key, tokenText] = await Promise.all([
    load(t.ca, 'certificate-authority'),
    load(t.cert, 'client-certificate'),
    load(t.key, 'client-key'),
    t.token === undefined && t.tokenFile ? load({ file: t.tokenFile }, 'tokenFile') : Promise.resolve(undefined),
  ]);
  const token = t.token ?? tokenText?.toString('utf8').trim();
  return {
    servers: [t.server],
    insecureSkipTlsVerify: t.insecureSkipTlsVerify,
    ...(ca && { ca }),
    ...(cert && { cert }),
    ...(key && { key }),
    ...(token && { token }),
    ...(t.token === undefined && t.tokenFile && { tokenFile: t.tokenFile }),
  };
}

/** Pure: the seeds' `--api-servers` / `--master` value (comma list of http:// URLs) → base URLs; throws RangeError. */
export function parseServerList(v: string): string[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (out.length === 0) throw new RangeError('no server given');
  for (const s of out) if (!/^https?:\/\/[^/]+\/?$/.test(s)) throw new RangeError(`"${s}" is not an http:// URL of a server (such as http://master:8080)`);
  return out.map((s) => s.replace(/\/+$/, ''));
}
