// The HTTP(S) handler: open health and version endpoints, authentication, discovery, and the verbs of
// every kind over the generic store, answering JSON (or a meta.k8s.io/v1 Table when kubectl asks for
// one) and the real apiserver's Status on every failure.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { errorMessage, type Logger } from '../common/index.js';
import { type Authenticator, NO_CREDENTIALS, type UserInfo } from './auth.js';
import { ANONYMOUS, answerReview, authorizeRequest, checkEscalation, RBAC_GROUP } from './authorization.js';
import { AdmissionChain, namespaceLifecycle, type Operation, type WriteAdmission } from './admission/index.js';
import { Authorizer } from './authz/index.js';
import { impersonate } from './impersonation.js';
import { answerOnSocket, type ConnectKind, type KubeletProxy, nodeProxyRest } from './kubelet-proxy.js';
import { jsonErrorText, REDACTED, scrub, scrubError, secretValues, yamlErrorText } from './redact.js';
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersions, type Listed, versionInfo } from './discovery.js';
import { ApiError, type FieldError, badRequest, conflict, forbidden, internalError, invalid, methodNotSupported, notFound, pathNotFound, tooLarge, unauthorized, unsupportedMedia } from './errors.js';
import { applyScale, AUTHENTICATION_GROUP, bindPod, groupVersion, invalidField, notSupportedField, scaleOf, type Strategy, validateScale } from './kinds/index.js';
import { type TokenIssuer, tokenRequestAnswer, tokenRequestSpec, type TokenBinding } from './serviceaccount/index.js';
import { isObj, metaOf, nameOf, type Obj, objAt, strOf } from './object.js';
import { definitionOf, openApiV2Document, openApiV3Document, openApiV3RootDocument, type ServedDocument, strictDecodingErrors } from './openapi/index.js';
import { applyPatch, type JsonMap, PATCH_CONTENT_TYPES, PatchError, type PatchType, patchTypeOf } from './patch/index.js';
import { decodeKubernetesProtobuf } from './protobuf-min.js';
import { parseRequest, queryBool, type ResourceRequest } from './request.js';
import { parseSelectors } from './selectors.js';
import { PROPAGATION_POLICIES, type PropagationPolicy } from './gc-policy.js';
import { type DeleteOptions, rfc3339, type Selectors, type Storage, type WatchEvent } from './storage.js';
import { buildTable, type IncludeObject, strategyTable, type TableDef } from './table.js';
import { OLD_VERSIONS, type VersionView } from './versions/index.js';

export const MAX_BODY = 3 * 1024 * 1024;
const MAX_WATCH_SECONDS = 1800;

export interface HandlerOptions {
  readonly storage: Storage;
  readonly kinds: readonly Strategy[];
  readonly log: Logger;
  /** host:port of this apiserver, for /api's serverAddressByClientCIDRs. */
  readonly serverAddress: string;
  /** Answers /readyz: whether etcd answers. */
  readonly ready: () => Promise<boolean>;
  /** Namespaces that may not be deleted. */
  readonly protectedNamespaces?: readonly string[];
  readonly onRequest?: (verb: string, resource: string, code: number) => void;
  /** /metrics (after authentication), Prometheus text. */
  readonly metrics?: () => Promise<string>;
  /** componentstatuses: the components probed now (etcd, scheduler, controller-manager); none when absent. */
  readonly componentStatuses?: () => Promise<Obj[]>;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK (kube-apiserver: a minute). */
  readonly bookmarkIntervalMs?: number;
  /** --authorization-mode's authorizer; requests go unchecked when absent or AlwaysAllow alone. */
  readonly authorizer?: Authorizer;
  /** --anonymous-auth: a request without credentials is system:anonymous (only when the authorizer enforces). */
  readonly anonymous?: boolean;
  /** Called after every write of an RBAC kind, with its resource (the policy cache drops what it has). */
  readonly onPolicyWrite?: (resource: string) => void;
  /** Called after an object is deleted through this server (the quota usage of its namespace is counted again). */
  readonly onDeleted?: (def: Strategy, namespace: string | undefined) => void;
  /** The admission chain; NamespaceLifecycle alone when absent. */
  readonly admission?: AdmissionChain;
  /** serviceaccounts/token (TokenRequest): absent, the subresource is not served. */
  readonly serviceAccountTokens?: { readonly issuer: TokenIssuer; readonly apiAudiences: readonly string[]; readonly maxExpirationSeconds: number };
  /** What a TokenReview asks (the secure port's authenticators); absent, every token is refused. */
  readonly tokenReviewer?: Authenticator;
  /** The older group versions served as views of the current kinds (OLD_VERSIONS when absent; those of unserved kinds are skipped). */
  readonly oldVersions?: readonly VersionView[];
  /** pods/log, exec, attach, portforward and nodes/proxy through the kubelets; absent, they are not served. */
  readonly kubelet?: KubeletProxy;
}

/**
 * How one request's group version reads and writes a stored kind: the kind itself, or an older version's
 * view of it (bodies defaulted in that version and converted in, answers converted out).
 */
interface Codec {
  readonly gvk: { readonly group: string; readonly version: string; readonly kind: string };
  readonly apiVersion: string;
  /** A body in the request's version → the stored kind's (defaulted first in the request's version). */
  readonly in: (o: Obj) => Obj;
  /** A stored object → the request's version. */
  readonly out: (o: Obj) => Obj;
  /** The kind's table, over objects in the request's version. */
  readonly table: TableDef;
}

const same = (o: Obj): Obj => o;
function kindCodec(s: Strategy): Codec {
  return { gvk: { group: s.def.group, version: s.def.version, kind: s.def.kind }, apiVersion: groupVersion(s.def), in: same, out: same, table: strategyTable(s) };
}
function viewCodec(v: VersionView, s: Strategy): Codec {
  return {
    gvk: { group: v.def.group, version: v.def.version, kind: v.def.kind },
    apiVersion: groupVersion(v.def),
    in: (o) => {
      const b = structuredClone(o);
      v.defaults(b);
      return v.toCurrent(b);
    },
    out: (o) => v.fromCurrent(o),
    table: { columns: s.tableColumns, cells: (o, now) => s.tableRow(v.toCurrent(o), now) },
  };
}

/** authentication.k8s.io/v1 UserInfo of a user. */
const userInfoJson = (u: UserInfo): Obj => ({ username: u.name, ...(u.uid && { uid: u.uid }), groups: [...u.groups], ...(u.extra && { extra: u.extra }) });

const ALWAYS_ALLOW = new Authorizer(['AlwaysAllow']);

const isSecrets = (s: Strategy): boolean => s.def.group === '' && s.def.resource === 'secrets';

const hasImpersonation = (req: IncomingMessage): boolean => Object.keys(req.headers).some((h) => h.startsWith('impersonate-'));

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

/** The `fieldValidation` query parameter: Warn when absent, as kube-apiserver defaults it; 400 when not one of the three. */
export function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Ignore' || v === 'Warn' || v === 'Strict') return v;
  throw badRequest(`fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Strict", "Warn"`);
}

/** A Warning header value (RFC 7234 warn-code 299, agent "-"), as kube-apiserver sends each warning. */
export const warningHeader = (text: string): string => `299 - ${JSON.stringify(text)}`;

const BOOKMARK_MS = 60_000;

/**
 * When the next BOOKMARK of a watch is due, as kube-apiserver's watch cache schedules them: every interval,
 * and once 2 s before the watch's deadline when that comes first (so a client that resumes from it after the
 * timeout lists nothing again). Undefined when none is due before the deadline.
 */
export function nextBookmarkAt(nowMs: number, deadlineMs: number, intervalMs: number): number | undefined {
  const beforeDeadline = deadlineMs - 2_000;
  const periodic = nowMs + intervalMs;
  if (periodic < beforeDeadline) return periodic;
  return beforeDeadline > nowMs ? beforeDeadline : undefined;
}

/** Whether the Accept header asks for a meta.k8s.io/v1 Table. */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const p = part.split(';').map((s) => s.trim());
    return p.includes('as=Table') && p.includes('g=meta.k8s.io') && p.includes('v=v1');
  });
}

/** A request body as JSON or YAML (kubectl sends JSON; curl users send either). */
export function parseBody(body: Buffer | string, contentType: string | undefined): unknown {
  const ct = (contentType ?? 'application/json').split(';')[0]!.trim();
  if (ct === 'application/vnd.kubernetes.protobuf') return decodeKubernetesProtobuf(Buffer.from(body));
  if (ct.includes('protobuf') || ct.includes('cbor')) throw unsupportedMedia(ct);
  const text = body.toString();
  if (ct === 'application/yaml' || ct === 'application/x-yaml' || ct === 'text/yaml') {
    try {
      return parseYaml(text) as unknown;
    } catch (e) {
      throw badRequest(`error converting YAML to JSON: ${yamlErrorText(errorMessage(e))}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${jsonErrorText(errorMessage(e))}`);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw tooLarge();
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const apiVersionOf = (s: Strategy): string => groupVersion(s.def);

/** `dryRun` as kube-apiserver checks it: absent, or only `All`; anything else is a 400. */
function dryRunValues(values: readonly string[]): { dryRun: boolean } {
  const bad = values.filter((v) => v !== 'All');
  if (bad.length) throw badRequest(`dryRun: Unsupported value: []string{${values.map((v) => JSON.stringify(v)).join(', ')}}: supported values: "All"`);
  return { dryRun: values.length > 0 };
}
const dryRunOf = (q: URLSearchParams): { dryRun: boolean } => dryRunValues(q.getAll('dryRun'));

export class ApiHandler {
  private readonly byPath = new Map<string, Strategy>();
  /** The old versions' paths, each with its view and the current kind it shows. */
  private readonly views = new Map<string, { view: VersionView; kind: Strategy }>();
  /** What discovery lists: the kinds, then the old versions. */
  private readonly listed: Listed[];
  private readonly admission: AdmissionChain;
  /** Per request on Secrets: the values its body and the stored object carry, struck out of any error it gets. */
  private readonly secretScrub = new WeakMap<IncomingMessage, Set<string>>();

  constructor(private readonly o: HandlerOptions) {
    for (const k of o.kinds) this.byPath.set(`${k.def.group}/${k.def.version}/${k.def.resource}`, k);
    this.listed = [...o.kinds];
    for (const v of o.oldVersions ?? OLD_VERSIONS) {
      const kind = this.kind(v.current.group, v.current.version, v.current.resource);
      if (!kind) continue;
      this.views.set(`${v.def.group}/${v.def.version}/${v.def.resource}`, { view: v, kind });
      this.listed.push(v);
    }
    this.admission = o.admission ?? new AdmissionChain([namespaceLifecycle((res, ns, name) => o.storage.admitNamespace(this.kind('', 'v1', 'namespaces')!, res, ns, name))]);
  }

  /** The admission hooks of one write. */
  private admit(operation: Operation, def: Strategy, sub: string | undefined, ns: string | undefined, name: string, user: UserInfo, dryRun: boolean): WriteAdmission {
    return this.admission.for({ operation, resource: def.def, subresource: sub ?? '', namespace: ns ?? '', name, user, dryRun });
  }

  kind(group: string, version: string, resource: string): Strategy | undefined {
    return this.byPath.get(`${group}/${version}/${resource}`);
  }

  /** Serves one request; `auth` undefined on the insecure port (every request is admin there). */
  async handle(req: IncomingMessage, res: ServerResponse, auth: Authenticator | undefined): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://apiserver');
    const info = parseRequest(req.method ?? 'GET', url.pathname, url.searchParams);
    let user: UserInfo = { name: 'system:unsecured', groups: ['system:masters', 'system:authenticated'] };
    let code = 200;
    const authz = auth && this.o.authorizer?.enforcing ? this.o.authorizer : undefined;
    const openGet = info.kind === 'nonresource' && (req.method === 'GET' || req.method === 'HEAD');
    try {
      // Without enforcement the health and version endpoints are answered before authentication, as before.
      if (openGet && !authz && (await this.openPath(url.pathname, res))) return;
      user = await this.userOf(req, url, auth, authz, user);
      if (authz) {
        await authorizeRequest(authz, user, info, url.searchParams, this.o.log);
        if (openGet && (await this.openPath(url.pathname, res))) return;
      }
      if (info.kind === 'nonresource' && url.pathname === '/metrics' && this.o.metrics) {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        res.end(await this.o.metrics());
      } else if (info.kind === 'nonresource' && (url.pathname === '/openapi' || url.pathname.startsWith('/openapi/'))) {
        code = this.openApi(url.pathname, req, res);
      } else if (info.kind === 'nonresource') code = this.discovery(url.pathname, res);
      else code = await this.resource(info, req, res, url.searchParams, user);
    } catch (e) {
      const values = this.secretScrub.get(req) ?? new Set<string>();
      const err = scrubError(e instanceof ApiError ? e : internalError(errorMessage(e)), values);
      if (!(e instanceof ApiError)) this.o.log.error({ path: url.pathname, err: scrub(errorMessage(e), values) }, 'request failed');
      code = err.httpStatus;
      if (!res.headersSent) send(res, code, err.toStatus());
      else res.end();
    } finally {
      const verb = info.verb;
      const resource = info.kind === 'resource' ? info.resource : '';
      if (info.kind === 'resource' && info.group === RBAC_GROUP && !['get', 'list', 'watch'].includes(verb)) this.o.onPolicyWrite?.(info.resource);
      this.o.onRequest?.(verb, resource, code);
      this.o.log.debug({ verb, resource, path: url.pathname, code, user: user.name, ms: Date.now() - started }, 'request');
    }
  }

  /** Authentication, then impersonation (WithImpersonation, before authorization: the request then runs as the one impersonated). */
  private async userOf(req: IncomingMessage, url: URL, auth: Authenticator | undefined, authz: Authorizer | undefined, unsecured: UserInfo): Promise<UserInfo> {
    let user = unsecured;
    if (auth) {
      const r = await auth.authenticate(req);
      if (!r.ok && authz && this.o.anonymous && r.reason === NO_CREDENTIALS) user = ANONYMOUS;
      else if (!r.ok) {
        this.o.log.info({ path: url.pathname, reason: r.reason, remote: req.socket.remoteAddress }, 'unauthorized request');
        throw unauthorized();
      } else user = r.user;
    }
    if (hasImpersonation(req)) {
      const asUser = await impersonate(authz ?? ALWAYS_ALLOW, user, req.headersDistinct);
      this.o.log.debug({ user: user.name, as: asUser.name }, 'impersonating');
      user = asUser;
    }
    return user;
  }

  /**
   * A request that asks for an HTTP upgrade (kubectl exec, attach, port-forward: SPDY/3.1 or WebSocket):
   * authenticated and authorized as any request (create on pods/exec for a POST, get for a GET), then handed
   * to the pod's kubelet; failures are answered with a Status on the connection.
   */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, auth: Authenticator | undefined): Promise<void> {
    socket.on('error', (e) => this.o.log.debug({ err: errorMessage(e) }, 'upgraded connection error'));
    const url = new URL(req.url ?? '/', 'http://apiserver');
    const info = parseRequest(req.method ?? 'GET', url.pathname, url.searchParams);
    const authz = auth && this.o.authorizer?.enforcing ? this.o.authorizer : undefined;
    let user: UserInfo = { name: 'system:unsecured', groups: ['system:masters', 'system:authenticated'] };
    let code = 101;
    const t0 = performance.now();
    try {
      user = await this.userOf(req, url, auth, authz, user);
      if (authz) await authorizeRequest(authz, user, info, url.searchParams, this.o.log);
      this.o.log.debug({ path: url.pathname, authMs: Math.round((performance.now() - t0) * 10) / 10 }, 'upgrade admitted');
      const k = this.o.kubelet;
      const core = info.kind === 'resource' && info.group === '' && info.version === 'v1' && info.name !== undefined;
      if (k && core && info.resource === 'pods' && info.namespace !== undefined && CONNECT_SUBRESOURCES.has(info.subresource ?? '')) {
        await k.connect(info.subresource as ConnectKind, info.namespace, info.name!, url.searchParams, req, socket, head);
      } else if (k && core && info.resource === 'nodes' && info.subresource === 'proxy') {
        await k.connectNode(info.name!, nodeProxyRest(url.pathname), url.searchParams, req, socket, head);
      } else throw badRequest(`an upgrade is served for pods/exec, pods/attach, pods/portforward and nodes/proxy only, not ${url.pathname}`);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError(errorMessage(e));
      if (!(e instanceof ApiError)) this.o.log.error({ path: url.pathname, err: errorMessage(e) }, 'upgrade failed');
      code = err.httpStatus;
      answerOnSocket(socket, err);
    } finally {
      const resource = info.kind === 'resource' ? `${info.resource}${info.subresource ? `/${info.subresource}` : ''}` : '';
      this.o.onRequest?.(info.verb, resource, code);
      this.o.log.debug({ verb: info.verb, resource, path: url.pathname, code, user: user.name }, 'upgrade request');
    }
  }

  /** pods/log (streamed from the kubelet), nodes/proxy, and exec/attach/portforward asked without an upgrade (400). */
  private async connectSubresource(def: Strategy, r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<number> {
    const k = this.o.kubelet;
    const sub = r.subresource!;
    if (!k) throw new ApiError(405, 'MethodNotAllowed', `${def.def.resource}/${sub} is not served by this apiserver: it has no way to the kubelets`, { kind: def.def.resource });
    if (r.name === undefined) throw pathNotFound();
    if (def.def.resource === 'nodes') return k.nodeProxy(r.name, nodeProxyRest(new URL(req.url ?? '/', 'http://apiserver').pathname), q, req, res);
    if (sub === 'log') {
      if (r.verb !== 'get') throw methodNotSupported('', 'pods/log', r.verb);
      return k.podLog(r.namespace!, r.name, q, req, res);
    }
    throw badRequest('Upgrade request required');
  }

  /** /healthz, /livez, /readyz, /version: answered to anyone. True when answered. */
  private async openPath(path: string, res: ServerResponse): Promise<boolean> {
    if (path === '/version') {
      send(res, 200, versionInfo());
      return true;
    }
    if (path === '/healthz' || path === '/livez' || path.startsWith('/healthz/') || path.startsWith('/livez/')) {
      sendText(res, 200, 'ok');
      return true;
    }
    if (path === '/readyz' || path.startsWith('/readyz/')) {
      const ok = await this.o.ready().catch(() => false);
      sendText(res, ok ? 200 : 500, ok ? 'ok' : '[-]etcd failed: reason withheld\nreadyz check failed');
      return true;
    }
    return false;
  }

  private discovery(path: string, res: ServerResponse): number {
    const p = path.replace(/\/+$/, '') || '/';
    const parts = p.split('/').filter(Boolean);
    let doc: unknown;
    if (p === '/api') doc = apiVersions(this.o.serverAddress);
    else if (p === '/apis') doc = apiGroupList(this.listed);
    else if (parts[0] === 'api' && parts.length === 2) doc = apiResourceList(this.listed, '', parts[1]!);
    else if (parts[0] === 'apis' && parts.length === 2) doc = apiGroupDoc(this.listed, parts[1]!);
    else if (parts[0] === 'apis' && parts.length === 3) doc = apiResourceList(this.listed, parts[1]!, parts[2]!);
    else if (p === '/') doc = { paths: ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/openapi/v2', '/openapi/v3', '/readyz', '/version'] };
    if (doc === undefined) throw pathNotFound();
    send(res, 200, doc);
    return 200;
  }

  /**
   * /openapi/v2 (JSON, or gnostic protobuf when Accept names it), /openapi/v3 and its per
   * group-version documents (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`; the `?hash=` query the
   * root document links with is not part of the lookup). A matching If-None-Match is answered 304.
   */
  private openApi(path: string, req: IncomingMessage, res: ServerResponse): number {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotSupported('', 'openapi', (req.method ?? '').toLowerCase());
    const p = path.replace(/\/+$/, '');
    let doc: ServedDocument | undefined;
    if (p === '/openapi/v2') doc = openApiV2Document(req.headers.accept);
    else if (p === '/openapi/v3') doc = openApiV3RootDocument();
    else if (p.startsWith('/openapi/v3/')) doc = openApiV3Document(p.slice('/openapi/v3/'.length));
    if (doc === undefined) throw pathNotFound();
    const headers = { 'Content-Type': doc.contentType, ETag: doc.etag, 'Cache-Control': 'no-cache, private', Vary: 'Accept' };
    if (req.headers['if-none-match'] === doc.etag) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
    res.writeHead(200, { ...headers, 'Content-Length': doc.body.byteLength });
    res.end(req.method === 'HEAD' ? undefined : doc.body);
    return 200;
  }

  private selectors(s: Strategy, q: URLSearchParams): Selectors {
    return parseSelectors(q.get('labelSelector') ?? '', q.get('fieldSelector') ?? '', s.selectableFields);
  }

  private respondObj(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, s: Strategy, code: number, stored: Obj, c: Codec = kindCodec(s)): number {
    const obj = c.out(stored);
    if (wantsTable(req.headers.accept)) {
      send(res, code, buildTable(c.table, [obj], { resourceVersion: strOf(objAt(obj, 'metadata').resourceVersion) ?? '' }, includeOf(q), Date.now()));
    } else send(res, code, obj);
    return code;
  }

  /** The body as an object, with its text when it came as JSON (duplicate keys are read from that). */
  private async body(req: IncomingMessage): Promise<{ obj: Obj; text?: string }> {
    const raw = await readBody(req);
    const b = parseBody(raw, req.headers['content-type']);
    this.noteSecrets(req, b);
    if (!isObj(b)) throw badRequest('the body of the request is not a JSON object');
    const ct = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
    return { obj: b, ...(ct === 'application/json' && { text: raw.toString() }) };
  }

  /** On a request about Secrets, the values of a body (or stored object) it handles are kept for scrubbing. */
  private noteSecrets(req: IncomingMessage, body: unknown): void {
    const set = this.secretScrub.get(req);
    if (set) secretValues(body, set);
  }

  /** The body's kind and apiVersion, when given, are the URL's (or, for `.../scale`, autoscaling/v1 Scale). */
  private checkKind(s: Strategy, body: Obj, want = { kind: s.def.kind, apiVersion: apiVersionOf(s) }): void {
    const kind = strOf(body.kind);
    const av = strOf(body.apiVersion);
    if ((kind && kind !== want.kind) || (av && av !== want.apiVersion)) {
      throw badRequest(`${kind ?? want.kind} in version "${av ?? want.apiVersion}" cannot be handled as a ${want.kind}: the body's kind and apiVersion must be ${want.kind} ${want.apiVersion}`);
    }
  }

  /**
   * Unknown and duplicate fields of a create or update body, as kube-apiserver's decoder treats them:
   * Strict refuses the body (400, `strict decoding error: ...`), Warn (the default) sends each as a Warning
   * header, Ignore says nothing; an accepted body loses its unknown fields, as decoding drops them.
   */
  private checkFields(def: { group: string; version: string; kind: string }, body: Obj, text: string | undefined, q: URLSearchParams, res: ServerResponse): void {
    const directive = fieldValidationOf(q);
    const errs = strictDecodingErrors(definitionOf(def.group, def.version, def.kind), body, text, directive !== 'Strict');
    if (errs.length === 0 || directive === 'Ignore') return;
    if (directive === 'Strict') {
      const av = strOf(body.apiVersion) ?? (def.group ? `${def.group}/${def.version}` : def.version);
      const version = av.includes('/') ? av.slice(av.indexOf('/') + 1) : av;
      throw badRequest(`${strOf(body.kind) ?? def.kind} in version ${JSON.stringify(version)} cannot be handled as a ${def.kind}: strict decoding error: ${errs.join(', ')}`);
    }
    addWarnings(res, errs);
  }

  private async resource(r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, user: UserInfo): Promise<number> {
    const view = this.views.get(`${r.group}/${r.version}/${r.resource}`);
    const def = view?.kind ?? this.kind(r.group, r.version, r.resource);
    if (!def) throw pathNotFound();
    const c = view ? viewCodec(view.view, view.kind) : kindCodec(def);
    if (view) addWarnings(res, [view.view.deprecation]);
    if (!def.def.namespaced && r.namespace !== undefined) throw pathNotFound();
    if (isSecrets(def)) this.secretScrub.set(req, new Set());
    const sub = r.subresource;
    if (sub !== undefined && !(view?.view.def ?? def.def).subresources.includes(sub)) throw pathNotFound();
    if (def.def.group === 'authorization.k8s.io') return this.review(def, r, req, res, q, user);
    if (def.def.group === AUTHENTICATION_GROUP) return this.authnReview(def, r, req, res, q, user);
    if (def.def.storage === '') return this.computed(def, r, req, res, q);
    const st = this.o.storage;
    const ns = def.def.namespaced ? r.namespace : undefined;
    if (sub === 'scale' && def.scale) return this.scale(def, ns, r, req, res, q);
    if (sub === 'token' && def.def.group === '' && def.def.resource === 'serviceaccounts') return this.tokenRequest(def, ns!, r, req, res, q, user);
    if (def.def.group === '' && ((def.def.resource === 'pods' && (sub === 'log' || CONNECT_SUBRESOURCES.has(sub ?? ''))) || (def.def.resource === 'nodes' && sub === 'proxy'))) {
      return this.connectSubresource(def, r, req, res, q);
    }
    if (sub !== undefined && !SERVED_SUBRESOURCES.has(sub)) {
      throw new ApiError(405, 'MethodNotAllowed', `${def.def.resource}/${sub} is not served by this apiserver yet`, { kind: def.def.resource });
    }
    if (sub !== undefined && r.name === undefined) throw pathNotFound();
    const statusGv = c.gvk;
    const wantKind = { kind: def.def.kind, apiVersion: c.apiVersion };
    switch (r.verb) {
      case 'get':
        return this.respondObj(req, res, q, def, 200, await st.get(def, ns, r.name!), c);
      case 'list': {
        const limit = q.get('limit');
        const l = await st.list(def, ns, { ...this.selectors(def, q), ...(limit && { limit: Number(limit) }), ...(q.get('continue') && { continue: q.get('continue')! }) });
        const meta = { resourceVersion: l.resourceVersion, ...(l.continue && { continue: l.continue }) };
        const items = l.items.map(c.out);
        if (wantsTable(req.headers.accept)) send(res, 200, buildTable(c.table, items, meta, includeOf(q), Date.now()));
        else send(res, 200, { kind: `${def.def.kind}List`, apiVersion: c.apiVersion, metadata: meta, items });
        return 200;
      }
      case 'watch':
        await this.watch(def, ns, r.name, req, res, q, c);
        return 200;
      case 'create': {
        if (def.def.namespaced && ns === undefined) throw methodNotSupported(def.def.group, def.def.resource, 'create');
        const { obj: body, text } = await this.body(req);
        if (sub === 'binding') return this.bind(def, ns!, r.name!, body, res);
        if (sub !== undefined || r.name !== undefined) throw methodNotSupported(def.def.group, def.def.resource, 'create');
        this.checkKind(def, body, wantKind);
        this.checkFields(statusGv, body, text, q, res);
        const stored = c.in(body);
        await checkEscalation(this.o.authorizer, user, def, ns, stored);
        const dry = dryRunOf(q);
        const created = await st.create(def, ns, stored, { ...dry, admission: this.admit('CREATE', def, undefined, ns, nameOf(body) || strOf(objAt(body, 'metadata').generateName) || '', user, dry.dryRun) });
        // debug, not info: one line per create was a measurable share of a create's cost.
        this.o.log.debug({ resource: def.def.resource, namespace: ns, name: nameOf(created) }, 'object created');
        return this.respondObj(req, res, q, def, 201, created, c);
      }
      case 'update': {
        const { obj: body, text } = await this.body(req);
        this.checkKind(def, body, wantKind);
        this.checkFields(statusGv, body, text, q, res);
        if (sub === 'finalize') return this.respondObj(req, res, q, def, 200, await this.finalize(def, r.name!, body));
        const stored = c.in(body);
        await checkEscalation(this.o.authorizer, user, def, ns, stored);
        const dry = dryRunOf(q);
        const updated = await st.update(def, ns, r.name!, stored, sub === 'status' ? 'status' : undefined, { ...dry, admission: this.admit('UPDATE', def, sub, ns, r.name!, user, dry.dryRun) });
        return this.respondObj(req, res, q, def, 200, updated, c);
      }
      case 'patch':
        if (sub === 'finalize' || sub === 'binding') throw methodNotSupported(def.def.group, `${def.def.resource}/${sub}`, 'patch');
        return this.respondObj(req, res, q, def, 200, await this.patch(def, ns, r.name!, sub, req, res, q, user, c), c);
      case 'delete': {
        if (sub !== undefined) throw methodNotSupported(def.def.group, `${def.def.resource}/${sub}`, 'delete');
        if (def.def.resource === 'namespaces' && dryRunOf(q).dryRun) return this.respondObj(req, res, q, def, 200, await st.get(def, undefined, r.name!));
        if (def.def.resource === 'namespaces') return this.deleteNamespace(def, r.name!, req, res, q);
        const opts = await this.deleteOptions(req, q);
        const { obj, gone } = await st.delete(def, ns, r.name!, { ...opts, admission: this.admit('DELETE', def, undefined, ns, r.name!, user, opts.dryRun === true) });
        if (!opts.dryRun) {
          this.o.log.info({ resource: def.def.resource, namespace: ns, name: r.name, gone }, 'object deleted');
          this.o.onDeleted?.(def, ns);
        }
        return this.respondObj(req, res, q, def, gone ? 200 : 202, obj, c);
      }
      case 'deletecollection': {
        if (!def.def.verbs.includes('deletecollection')) throw methodNotSupported(def.def.group, def.def.resource, 'deletecollection');
        const opts = await this.deleteOptions(req, q);
        const l = await st.list(def, ns, this.selectors(def, q));
        const items: Obj[] = [];
        for (const o of l.items) {
          try {
            const ons = strOf(objAt(o, 'metadata').namespace);
            items.push(c.out((await st.delete(def, ons, nameOf(o), { ...opts, admission: this.admit('DELETE', def, undefined, ons, nameOf(o), user, opts.dryRun === true) })).obj));
          } catch (e) {
            if (!(e instanceof ApiError && e.httpStatus === 404)) throw e;
          }
        }
        if (!opts.dryRun && items.length) this.o.onDeleted?.(def, ns);
        send(res, 200, { kind: `${def.def.kind}List`, apiVersion: c.apiVersion, metadata: { resourceVersion: l.resourceVersion }, items });
        return 200;
      }
      default:
        throw methodNotSupported(def.def.group, def.def.resource, r.verb);
    }
  }

  /** authorization.k8s.io's access reviews: created only, answered by the authorizer (AlwaysAllow's when there is none). */
  private async review(s: Strategy, r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, user: UserInfo): Promise<number> {
    if (r.verb !== 'create' || r.name !== undefined || r.subresource !== undefined) throw methodNotSupported(s.def.group, s.def.resource, r.verb);
    const { obj: body, text } = await this.body(req);
    this.checkKind(s, body);
    this.checkFields({ group: s.def.group, version: s.def.version, kind: s.def.kind }, body, text, q, res);
    if (s.def.namespaced && r.namespace === undefined) throw pathNotFound();
    send(res, 201, await answerReview(this.o.authorizer ?? ALWAYS_ALLOW, s, user, body, r.namespace));
    return 201;
  }

  /** authentication.k8s.io's TokenReview (a token's user, from the authenticators) and SelfSubjectReview (the requester's). */
  private async authnReview(s: Strategy, r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, user: UserInfo): Promise<number> {
    if (r.verb !== 'create' || r.name !== undefined || r.subresource !== undefined) throw methodNotSupported(s.def.group, s.def.resource, r.verb);
    const { obj: body, text } = await this.body(req);
    this.checkKind(s, body);
    this.checkFields({ group: s.def.group, version: s.def.version, kind: s.def.kind }, body, text, q, res);
    const head = { kind: s.def.kind, apiVersion: apiVersionOf(s), metadata: { ...objAt(body, 'metadata'), creationTimestamp: null } };
    if (s.def.kind === 'SelfSubjectReview') {
      send(res, 201, { ...head, status: { userInfo: userInfoJson(user) } });
      return 201;
    }
    const spec = objAt(body, 'spec');
    const token = strOf(spec.token) ?? '';
    if (token === '') throw badRequest('token is required for TokenReview in authentication');
    const auds = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string' && a !== '') : [];
    const got = this.o.tokenReviewer ? await this.o.tokenReviewer.authenticateToken(token, auds.length ? auds : undefined) : { ok: false as const, reason: 'token authentication is not configured' };
    const status = got.ok ? { authenticated: true, user: userInfoJson(got.user), audiences: [...got.audiences] } : { user: {}, error: got.reason };
    send(res, 201, { ...head, spec: { ...spec, token }, status });
    return 201;
  }

  /**
   * serviceaccounts/<name>/token: a TokenRequest answered with a token for the account, bound to the pod or
   * secret it names (which must exist, run as that account, and have the uid given), for its audiences.
   */
  private async tokenRequest(def: Strategy, ns: string, r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, user: UserInfo): Promise<number> {
    const t = this.o.serviceAccountTokens;
    if (!t || r.name === undefined) throw pathNotFound();
    if (r.verb !== 'create') throw methodNotSupported('', 'serviceaccounts/token', r.verb);
    const name = r.name;
    const { obj: body, text } = await this.body(req);
    const gvk = { group: AUTHENTICATION_GROUP, version: 'v1', kind: 'TokenRequest' };
    this.checkKind(def, body, { kind: gvk.kind, apiVersion: `${gvk.group}/${gvk.version}` });
    this.checkFields(gvk, body, text, q, res);
    const dry = dryRunOf(q);
    const got = tokenRequestSpec(body, t.apiAudiences, t.maxExpirationSeconds);
    if ('problems' in got) throw invalid(AUTHENTICATION_GROUP, 'TokenRequest', name, got.problems.map((p) => ({ type: 'FieldValueInvalid' as const, field: p.field, value: p.value, detail: p.detail })));
    if ('badRequest' in got) throw badRequest(got.badRequest);
    const st = this.o.storage;
    const sa = await st.get(def, ns, name);
    let binding: TokenBinding = { namespace: ns, serviceAccount: { name, uid: strOf(objAt(sa, 'metadata').uid) ?? '' } };
    const ref = got.spec.boundObjectRef;
    if (ref) {
      const target = await st.get(this.kind('', 'v1', ref.kind === 'Pod' ? 'pods' : 'secrets')!, ns, ref.name);
      const uid = strOf(objAt(target, 'metadata').uid) ?? '';
      if (ref.kind === 'Pod') {
        const podSa = strOf(objAt(target, 'spec').serviceAccountName) ?? '';
        if (podSa !== name) throw badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with serviceaccount ${JSON.stringify(podSa)}`);
      }
      if (ref.uid !== undefined && ref.uid !== uid) {
        throw conflict('', ref.kind, ref.name, `the UID in the bound object reference (${ref.uid}) does not match the UID in record (${uid}). The object might have been deleted and then recreated`);
      }
      binding = { ...binding, [ref.kind === 'Pod' ? 'pod' : 'secret']: { name: ref.name, uid } };
    }
    // As kube-apiserver runs admission on the subresource (NodeRestriction limits a node to its pods' tokens).
    const adm = this.admit('CREATE', def, 'token', ns, name, user, dry.dryRun);
    await adm.mutate(body, undefined);
    await adm.validate(body, undefined);
    const { token, expiresAt } = t.issuer.issue(binding, got.spec.audiences, got.spec.expirationSeconds);
    this.o.log.info({ namespace: ns, serviceAccount: name, boundTo: ref ? `${ref.kind}/${ref.name}` : undefined, audiences: got.spec.audiences, expirationSeconds: got.spec.expirationSeconds, requester: user.name }, 'service account token issued');
    send(res, 201, tokenRequestAnswer(body, got.spec, token, expiresAt));
    return 201;
  }

  /** A kind that is not stored but computed when asked (componentstatuses): get and list only. */
  private async computed(s: Strategy, r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<number> {
    if (r.subresource !== undefined || (r.verb !== 'get' && r.verb !== 'list')) throw methodNotSupported(s.def.group, s.def.resource, r.verb);
    const sel = this.selectors(s, q);
    // As kube-apiserver marks the deprecated kind (kubectl prints it).
    addWarnings(res, ['v1 ComponentStatus is deprecated in v1.19+']);
    const items = (await (this.o.componentStatuses?.() ?? Promise.resolve([]))).map((o) => ({ kind: s.def.kind, apiVersion: apiVersionOf(s), ...o }));
    if (r.verb === 'get') {
      const o = items.find((i) => nameOf(i) === r.name);
      if (!o) throw notFound(s.def.group, s.def.resource, r.name!);
      return this.respondObj(req, res, q, s, 200, o);
    }
    const matching = items.filter((o) => this.o.storage.matches(s, o, sel));
    if (wantsTable(req.headers.accept)) send(res, 200, buildTable(strategyTable(s), matching, {}, includeOf(q), Date.now()));
    else send(res, 200, { kind: `${s.def.kind}List`, apiVersion: apiVersionOf(s), metadata: {}, items: matching });
    return 200;
  }

  /**
   * `.../scale` (autoscaling/v1 Scale) of a kind with replicas: GET reads it from the object; PUT and PATCH
   * (of the Scale) write spec.replicas back at the revision read, retried when the object moved unless the
   * Scale named a resourceVersion (then a stale one is 409 Conflict).
   */
  private async scale(s: Strategy, ns: string | undefined, r: ResourceRequest, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<number> {
    const name = r.name;
    if (name === undefined) throw pathNotFound();
    const scaleGv = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
    const st = this.o.storage;
    if (r.verb === 'get') {
      send(res, 200, scaleOf(s, await st.get(s, ns, name)));
      return 200;
    }
    if (r.verb !== 'update' && r.verb !== 'patch') throw methodNotSupported(s.def.group, `${s.def.resource}/scale`, r.verb);
    let patchType: PatchType | undefined;
    let patchBody: unknown;
    let putBody: Obj | undefined;
    if (r.verb === 'patch') {
      patchType = patchTypeOf(req.headers['content-type']);
      if (patchType === undefined) throw unsupportedPatch();
      patchBody = parseBody(await readBody(req), 'application/json');
    } else {
      const { obj, text } = await this.body(req);
      this.checkKind(s, obj, { kind: 'Scale', apiVersion: 'autoscaling/v1' });
      this.checkFields(scaleGv, obj, text, q, res);
      putBody = obj;
    }
    for (let i = 0; i < 10; i++) {
      const cur = await st.get(s, ns, name);
      const curScale = scaleOf(s, cur)!;
      let want: Obj;
      if (putBody) want = putBody;
      else {
        want = this.patched(patchType!, curScale, patchBody, 'autoscaling/v1', 'Scale');
        this.checkPatchedFields(scaleGv, want, patchBody, q, res, i === 0);
      }
      const errs = validateScale(want);
      if (errs.length) throw invalid('autoscaling', 'Scale', name, errs);
      const curRv = strOf(objAt(cur, 'metadata').resourceVersion);
      const rv = strOf(objAt(want, 'metadata').resourceVersion);
      const pinned = rv !== undefined && rv !== '' && (putBody !== undefined || rv !== curRv);
      if (pinned && rv !== curRv) throw conflict(s.def.group, s.def.resource, name);
      const next = structuredClone(cur);
      applyScale(s, next, want);
      try {
        const dry = dryRunOf(q);
        const updated = await st.update(s, ns, name, next, undefined, dry);
        if (!dry.dryRun) this.o.log.info({ resource: s.def.resource, namespace: ns, name, replicas: objAt(want, 'spec').replicas }, 'object scaled');
        send(res, 200, scaleOf(s, updated));
        return 200;
      } catch (e) {
        if (pinned || !(e instanceof ApiError && e.reason === 'Conflict')) throw e;
      }
    }
    throw conflict(s.def.group, s.def.resource, name);
  }

  private async deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
    const raw = await readBody(req);
    const body = raw.toString().trim() ? parseBody(raw, req.headers['content-type']) : {};
    const b = isObj(body) ? body : {};
    const gq = q.get('gracePeriodSeconds');
    const grace = typeof b.gracePeriodSeconds === 'number' ? b.gracePeriodSeconds : gq !== null && /^-?\d+$/.test(gq) ? Number(gq) : undefined;
    const pre = objAt(b, 'preconditions');
    const pp = typeof b.propagationPolicy === 'string' ? b.propagationPolicy : (q.get('propagationPolicy') ?? undefined);
    const oq = q.get('orphanDependents');
    const orphan = typeof b.orphanDependents === 'boolean' ? b.orphanDependents : oq !== null ? queryBool(oq) : undefined;
    const errs: FieldError[] = [];
    if (pp !== undefined && !(PROPAGATION_POLICIES as readonly string[]).includes(pp)) errs.push(notSupportedField('propagationPolicy', pp, PROPAGATION_POLICIES));
    if (pp !== undefined && orphan !== undefined) errs.push(invalidField('propagationPolicy', pp, 'orphanDependents and deletionPropagation cannot be both set'));
    if (errs.length) throw invalid('meta.k8s.io', 'DeleteOptions', '', errs);
    return {
      ...(pp !== undefined && { propagationPolicy: pp as PropagationPolicy }),
      ...(orphan !== undefined && { orphanDependents: orphan }),
      ...(grace !== undefined && { gracePeriodSeconds: grace }),
      ...((strOf(pre.uid) || strOf(pre.resourceVersion)) && { preconditions: { ...(strOf(pre.uid) && { uid: strOf(pre.uid)! }), ...(strOf(pre.resourceVersion) && { resourceVersion: strOf(pre.resourceVersion)! }) } }),
      ...((dryRunOf(q).dryRun || dryRunValues(Array.isArray(b.dryRun) ? b.dryRun.map(String) : []).dryRun) && { dryRun: true }),
    };
  }

  /** A patch applied to an object; a patch that does not apply is the Status the real apiserver answers. */
  private patched(type: PatchType, cur: Obj, patch: unknown, apiVersion: string, kind: string): Obj {
    try {
      const out = applyPatch(type, cur as JsonMap, patch, apiVersion, kind);
      if (!isObj(out)) throw new PatchError(type, 422, 'the patch did not produce an object');
      return out;
    } catch (e) {
      if (e instanceof PatchError) throw patchFailed(e);
      throw e;
    }
  }

  /**
   * The unknown fields a patch brings (the patched object's, as kube-apiserver decodes it): Strict refuses the
   * patch with 422 Invalid on `patch`, as the real server does; Warn sends them as Warning headers; Warn and
   * Ignore drop them from the patched object.
   */
  private checkPatchedFields(def: { group: string; version: string; kind: string }, patched: Obj, patch: unknown, q: URLSearchParams, res: ServerResponse, warn = true): void {
    const directive = fieldValidationOf(q);
    const errs = strictDecodingErrors(definitionOf(def.group, def.version, def.kind), patched, undefined, directive !== 'Strict');
    if (errs.length === 0 || directive === 'Ignore') return;
    if (directive === 'Strict') {
      throw invalid('', '', '', [{ type: 'FieldValueInvalid', field: 'patch', value: patch === REDACTED ? REDACTED : JSON.stringify(patch), detail: `strict decoding error: ${errs.join(', ')}` }]);
    }
    if (warn) addWarnings(res, errs);
  }

  /**
   * PATCH as a JSON merge patch, a JSON patch or a strategic merge patch (by Content-Type), applied
   * to the stored object and written at its revision (retried when it moved, unless the patch pins a
   * resourceVersion). A patch that does not apply is the Status the real apiserver answers.
   */
  private async patch(def: Strategy, ns: string | undefined, name: string, sub: string | undefined, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, user: UserInfo, c: Codec): Promise<Obj> {
    const type = patchTypeOf(req.headers['content-type']);
    if (type === undefined) throw unsupportedPatch();
    const patch = parseBody(await readBody(req), 'application/json');
    this.noteSecrets(req, patch);
    if (type !== 'json' && !isObj(patch)) throw badRequest('the patch must be a JSON object');
    fieldValidationOf(q);
    for (let i = 0; i < 10; i++) {
      // The patch applies to the object in the request's version, as the client read it.
      const cur = c.out(await this.o.storage.get(def, ns, name));
      this.noteSecrets(req, cur);
      const patchedObj = this.patched(type, cur, patch, c.apiVersion, def.def.kind);
      this.checkPatchedFields(c.gvk, patchedObj, isSecrets(def) ? REDACTED : patch, q, res, i === 0);
      const next = c.in(patchedObj);
      const curRv = strOf(objAt(cur, 'metadata').resourceVersion);
      const rv = strOf(objAt(next, 'metadata').resourceVersion);
      // A patch that sets another resourceVersion pins it: its conflict is the client's.
      const pinned = rv !== undefined && rv !== curRv;
      if (rv === undefined) metaOf(next).resourceVersion = curRv;
      await checkEscalation(this.o.authorizer, user, def, ns, next);
      try {
        const dry = dryRunOf(q);
        return await this.o.storage.update(def, ns, name, next, sub === 'status' ? 'status' : undefined, { ...dry, admission: this.admit('UPDATE', def, sub, ns, name, user, dry.dryRun) });
      } catch (e) {
        if (pinned || !(e instanceof ApiError && e.reason === 'Conflict')) throw e;
      }
    }
    throw conflict(def.def.group, def.def.resource, name);
  }

  /** pods/binding: the pod is given its node, once. */
  private async bind(def: Strategy, ns: string, name: string, body: Obj, res: ServerResponse): Promise<number> {
    const target = strOf(objAt(body, 'target').name);
    if (!target) throw badRequest('a binding needs target.name, the node');
    // As the binding REST does: nodeName set on the stored pod directly (a pod update may not change it).
    await this.o.storage.rewrite(def, ns, name, (cur) => {
      const why = bindPod(cur, target);
      if (why !== undefined) throw conflict('', 'pods', name, why);
      return cur;
    });
    send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    return 201;
  }

  /** namespaces/<name>/finalize: only spec.finalizers is taken from the body. */
  private async finalize(def: Strategy, name: string, body: Obj): Promise<Obj> {
    const want = strOf(objAt(body, 'metadata').resourceVersion);
    return this.o.storage.rewrite(def, undefined, name, (cur) => {
      if (want !== undefined && want !== strOf(objAt(cur, 'metadata').resourceVersion)) throw conflict('', 'namespaces', name);
      const fin = objAt(body, 'spec').finalizers;
      cur.spec = { ...objAt(cur, 'spec'), finalizers: Array.isArray(fin) ? fin.filter((f): f is string => typeof f === 'string') : [] };
      return cur;
    });
  }

  /**
   * A namespace is marked Terminating, its objects are deleted (pods gracefully), and it is removed
   * once nothing is left in it; what the kubelet still has to stop is finished by sweepNamespaces.
   */
  private async deleteNamespace(def: Strategy, name: string, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<number> {
    if ((this.o.protectedNamespaces ?? []).includes(name)) throw forbidden('', 'namespaces', name, 'this namespace may not be deleted');
    await this.deleteOptions(req, q);
    const cur = await this.o.storage.get(def, undefined, name);
    let obj = cur;
    if (!strOf(objAt(cur, 'metadata').deletionTimestamp)) {
      obj = await this.o.storage.rewrite(def, undefined, name, (o) => {
        metaOf(o).deletionTimestamp = rfc3339(new Date());
        o.status = { phase: 'Terminating' };
        return o;
      });
    }
    const gone = await this.finishNamespace(def, name);
    this.o.log.info({ namespace: name, gone }, 'namespace deleted');
    return this.respondObj(req, res, q, def, 200, obj);
  }

  /** Deletes what is left in a terminating namespace; true when the namespace itself is gone. */
  async finishNamespace(nsDef: Strategy, name: string): Promise<boolean> {
    let left = 0;
    for (const def of this.o.kinds) {
      if (!def.def.namespaced || def.def.storage === '') continue;
      const l = await this.o.storage.list(def, name, { labels: [], fields: [] });
      for (const o of l.items) {
        try {
          // As the namespace controller deletes: in the background (an RC's v1 default would orphan).
          const r = await this.o.storage.delete(def, name, nameOf(o), { propagationPolicy: 'Background' });
          if (!r.gone) left++;
        } catch (e) {
          if (!(e instanceof ApiError && e.httpStatus === 404)) throw e;
        }
      }
    }
    if (left > 0) return false;
    try {
      await this.o.storage.delete(nsDef, undefined, name, {});
    } catch (e) {
      if (!(e instanceof ApiError && e.httpStatus === 404)) throw e;
    }
    return true;
  }

  /** One pass over the namespaces being deleted (run every few seconds by the server). */
  async sweepNamespaces(): Promise<void> {
    const nsDef = this.kind('', 'v1', 'namespaces')!;
    const l = await this.o.storage.list(nsDef, undefined, { labels: [], fields: [] });
    for (const ns of l.items) if (strOf(objAt(ns, 'metadata').deletionTimestamp)) await this.finishNamespace(nsDef, nameOf(ns));
  }

  private async watch(def: Strategy, ns: string | undefined, name: string | undefined, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, c: Codec): Promise<void> {
    const sel = this.selectors(def, q);
    const selectors: Selectors = name ? { ...sel, fields: [...sel.fields, { field: 'metadata.name', operator: '=', value: name }] } : sel;
    const table = wantsTable(req.headers.accept);
    const include = includeOf(q);
    const ac = new AbortController();
    const t = q.get('timeoutSeconds');
    const seconds = Math.min(t && /^\d+$/.test(t) ? Number(t) : MAX_WATCH_SECONDS, MAX_WATCH_SECONDS);
    const deadline = Date.now() + seconds * 1000;
    const timer = setTimeout(() => ac.abort(), seconds * 1000);
    const onClose = (): void => ac.abort();
    res.once('close', onClose);
    let columnsSent = false;
    const write = (e: WatchEvent): void => {
      const isObject = e.type !== 'ERROR' && e.type !== 'BOOKMARK';
      let object: Obj = isObject ? c.out(e.object) : e.object;
      if (table && isObject) {
        object = buildTable(c.table, [object], { resourceVersion: strOf(objAt(object, 'metadata').resourceVersion) ?? '' }, include, Date.now(), !columnsSent);
        columnsSent = true;
      }
      res.write(object === e.object ? eventLine(e) : `${JSON.stringify({ type: e.type, object })}\n`);
    };
    // Bookmarks carry the newest revision this watch has seen (its start, or an event's, even one the
    // selectors filtered out): a client resuming from it misses nothing.
    let progress: string | undefined;
    let bookmark: NodeJS.Timeout | undefined;
    const interval = this.o.bookmarkIntervalMs ?? BOOKMARK_MS;
    const schedule = (): void => {
      const at = nextBookmarkAt(Date.now(), deadline, interval);
      if (at === undefined) return;
      bookmark = setTimeout(() => {
        if (progress !== undefined && !ac.signal.aborted) write({ type: 'BOOKMARK', object: { kind: def.def.kind, apiVersion: c.apiVersion, metadata: { resourceVersion: progress } } });
        schedule();
      }, at - Date.now());
    };
    if (queryBool(q.get('allowWatchBookmarks'))) schedule();
    try {
      // Headers go out at once: a client waits for them before it reads events.
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
      res.flushHeaders();
      await this.o.storage.watch(def, ns, q.get('resourceVersion') ?? undefined, selectors, write, ac.signal, (rv) => (progress = rv));
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError(errorMessage(e));
      res.write(`${JSON.stringify({ type: 'ERROR', object: err.toStatus() })}\n`);
    } finally {
      clearTimeout(timer);
      clearTimeout(bookmark);
      res.off('close', onClose);
      res.end();
    }
  }
}

// A change that the watch cache fans out reaches every watcher as the same object (never mutated once
// cached): its line is serialised and encoded once, not once per watcher.
const eventLines = new WeakMap<Obj, Partial<Record<WatchEvent['type'], Buffer>>>();
function eventLine(e: WatchEvent): Buffer {
  let lines = eventLines.get(e.object);
  if (!lines) eventLines.set(e.object, (lines = {}));
  return (lines[e.type] ??= Buffer.from(`${JSON.stringify({ type: e.type, object: e.object })}\n`));
}

/** Subresources served through the generic store (scale has its own path; log, exec, ... come later). */
const SERVED_SUBRESOURCES = new Set(['status', 'binding', 'finalize']);
const CONNECT_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

function addWarnings(res: ServerResponse, texts: readonly string[]): void {
  const prev = res.getHeader('Warning');
  const have = Array.isArray(prev) ? prev : typeof prev === 'string' ? [prev] : [];
  res.setHeader('Warning', [...have, ...texts.map(warningHeader)]);
}

const unsupportedPatch = (): ApiError =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_CONTENT_TYPES.join(', ')}`);

/** A patch that does not apply, as the real apiserver's Status: 400 BadRequest, 413, or 422 Invalid. */
function patchFailed(e: PatchError): ApiError {
  const reason = e.status === 400 ? 'BadRequest' : e.status === 413 ? 'RequestEntityTooLarge' : 'Invalid';
  return new ApiError(e.status, reason, e.message);
}

function includeOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}


