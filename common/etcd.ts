// The one place an etcd client is built, and the one declaration of the flags every daemon shares
// (--etcd-endpoints and the TLS and auth flags), so flanneld, the kubelet and the proxy take the same
// flags with the same defaults and connect the same way.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';
import type { SecureContext } from 'node:tls';
import type * as Grpc from '@grpc/grpc-js';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Etcd3, IOptions } from 'etcd3';
import { errorMessage, FlannelError } from '../core/index.js';

// etcd3 and gRPC (with protobufjs parsing etcd's protos) cost a daemon more to load than the rest of
// it: they are required on the first client built, not at import, so a start that reaches etcd
// another way first (flanneld's first lease, common/etcd-gateway.ts) does not wait for them.
const requireCjs = createRequire(import.meta.url);
const etcd3 = (): typeof import('etcd3') => requireCjs('etcd3') as typeof import('etcd3');
const grpcJs = (): typeof Grpc => requireCjs('@grpc/grpc-js') as typeof Grpc;
// node:tls too (with crypto and its streams, a tenth of a start): only TLS endpoints need it.
const nodeTls = (): typeof Tls => requireCjs('node:tls') as typeof Tls;

/** flannel's default: the legacy client port first, then the IANA one. */
export const DEFAULT_ETCD_ENDPOINTS = 'http://127.0.0.1:4001,http://127.0.0.1:2379';

export interface EtcdOptions {
  readonly endpoints: readonly string[];
  readonly keyfile?: string;
  readonly certfile?: string;
  readonly cafile?: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-call deadline in ms, so a hung etcd surfaces as an error instead of a stuck daemon. */
  readonly callTimeoutMs?: number;
  /** The clock of the per-endpoint circuit breakers (tests). */
  readonly now?: () => number;
}

/**
 * Responses up to 2 GiB, as etcd's Go client takes them (its MaxCallRecvMsgSize defaults to
 * math.MaxInt32); grpc-js stops at 4 MiB, which one range of ~6,000 pods exceeds.
 */
const MAX_RECEIVE = { 'grpc.max_receive_message_length': 2 ** 31 - 1 } as const;

export function createEtcdClient(o: EtcdOptions): Etcd3 {
  const faults = new EtcdFaults(o.now);
  const opts: IOptions = {
    hosts: [...o.endpoints],
    dialTimeout: 5_000,
    ...(o.callTimeoutMs !== undefined && { defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + o.callTimeoutMs! }) }),
    // etcd3's own breaker rejects with "Execution prevented because the circuit breaker is open",
    // hiding why the endpoint failed; ours names the last real error of every failing endpoint.
    faultHandling: { host: (host) => faults.policy(host) },
    grpcOptions: { ...MAX_RECEIVE },
  };
  const tls = o.cafile || o.certfile || o.keyfile;
  if (tls) {
    opts.credentials = {
      rootCertificate: o.cafile ? readFileSync(o.cafile) : Buffer.alloc(0),
      ...(o.keyfile && { privateKey: readFileSync(o.keyfile) }),
      ...(o.certfile && { certChain: readFileSync(o.certfile) }),
    };
  }
  if (tls || o.endpoints.some((e) => e.startsWith('https:'))) {
    const secureContext = nodeTls().createSecureContext({
      ...(o.cafile && { ca: readFileSync(o.cafile) }),
      ...(o.keyfile && { key: readFileSync(o.keyfile) }),
      ...(o.certfile && { cert: readFileSync(o.certfile) }),
    });
    opts.grpcOptions = tlsChannelOptions(etcdTlsCredentials(secureContext));
  }
  if (o.username) opts.auth = { username: o.username, password: o.password ?? '' };
  return new (etcd3().Etcd3)(opts);
}

/** The etcd flags every daemon shares (--etcd-endpoints, --etcd-keyfile, ...), as parsed. */
export interface EtcdFlagValues {
  readonly etcdEndpoints: readonly string[];
  readonly etcdKeyfile?: string;
  readonly etcdCertfile?: string;
  readonly etcdCafile?: string;
  readonly etcdUsername?: string;
  readonly etcdPassword?: string;
}

/**
 * Adds the shared etcd flags to `cmd`, each also read from the environment variable `envName(flag)`
 * (FLANNELD_ETCD_ENDPOINTS, KUBELET_ETCD_ENDPOINTS, ...); the command line wins.
 */
export function addEtcdOptions(cmd: Command, envName: (flag: string) => string): Command {
  const opt = (flags: string, description: string): Option => new Option(flags, description).env(envName(/--([a-z0-9-]+)/.exec(flags)![1]!));
  return cmd
    .addOption(opt('--etcd-endpoints <urls>', 'a comma-delimited list of etcd endpoints').default(DEFAULT_ETCD_ENDPOINTS))
    .addOption(opt('--etcd-keyfile <file>', 'SSL key file used to secure etcd communication'))
    .addOption(opt('--etcd-certfile <file>', 'SSL certification file used to secure etcd communication'))
    .addOption(opt('--etcd-cafile <file>', 'SSL Certificate Authority file used to secure etcd communication'))
    .addOption(opt('--etcd-username <name>', 'username for BasicAuth to etcd'))
    .addOption(opt('--etcd-password <password>', 'password for BasicAuth to etcd'));
}

/** The parsed etcd flags (from `cmd.opts()`); throws InvalidArgumentError when no endpoint is left. */
export function etcdFlagValues(raw: Record<string, unknown>): EtcdFlagValues {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const endpoints = String(raw.etcdEndpoints ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) throw new InvalidArgumentError('--etcd-endpoints is empty');
  const o: Record<string, unknown> = { etcdEndpoints: endpoints };
  for (const k of ['etcdKeyfile', 'etcdCertfile', 'etcdCafile', 'etcdUsername', 'etcdPassword'] as const) {
    const v = str(raw[k]);
    if (v !== undefined) o[k] = v;
  }
  return o as unknown as EtcdFlagValues;
}

/** The connection the shared flags describe (endpoints, TLS files, credentials). */
export function etcdOptionsFromFlags(o: EtcdFlagValues): EtcdOptions {
  return {
    endpoints: o.etcdEndpoints,
    ...(o.etcdKeyfile && { keyfile: o.etcdKeyfile }),
    ...(o.etcdCertfile && { certfile: o.etcdCertfile }),
    ...(o.etcdCafile && { cafile: o.etcdCafile }),
    ...(o.etcdUsername && { username: o.etcdUsername }),
    ...(o.etcdPassword && { password: o.etcdPassword }),
  };
}

export function etcdClientFromFlags(o: EtcdFlagValues, callTimeoutMs = 10_000): Etcd3 {
  return createEtcdClient({ ...etcdOptionsFromFlags(o), callTimeoutMs });
}

/** An etcd call that failed (unreachable, timed out, refused), naming the operation and the key. */
export class EtcdError extends FlannelError {
  readonly code = 'ETCD';
  override readonly transient = true;
  constructor(
    readonly op: string,
    readonly key: string,
    cause: unknown,
  ) {
    super(`etcd ${op} ${key}: ${errorMessage(cause)}`, { cause });
  }
}

/** The last real error of an endpoint whose circuit breaker is open. */
export interface EndpointFailure {
  readonly host: string;
  readonly error: string;
  /** In how many ms the breaker lets one call through again (0: now, if no call is in flight). */
  readonly retryInMs: number;
}

/** A call not sent because every endpoint it could go to failed recently; names why they failed. */
export class EtcdUnavailableError extends FlannelError {
  readonly code = 'ETCD_UNAVAILABLE';
  override readonly transient = true;
  constructor(readonly failures: readonly EndpointFailure[]) {
    super(`not sent, every endpoint tried failed recently: ${failures.map((f) => `${f.host}: ${f.error}`).join('; ')}`);
  }
}

/** etcd3's default breaker: open after 3 consecutive connection-level failures, one trial call after 5 s. */
const BREAK_AFTER = 3;
const HALF_OPEN_AFTER_MS = 5_000;

/** One endpoint's circuit breaker state; pure, the clock is the caller's. */
export class HostBreaker {
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;
  private lastError: string | undefined;

  constructor(readonly host: string) {}

  /** Whether a call may go to this endpoint now; a half-open breaker admits one trial at a time. */
  admit(now: number): boolean {
    if (this.failures < BREAK_AFTER) return true;
    if (now < this.openUntil || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  /** The endpoint answered (any answer, even an etcd error such as permission denied). */
  succeeded(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.lastError = undefined;
  }

  /** The endpoint could not be reached or did not answer (etcd3's "recoverable" errors). */
  failed(now: number, error: string): void {
    this.failures++;
    this.trialInFlight = false;
    this.lastError = error;
    if (this.failures >= BREAK_AFTER) this.openUntil = now + HALF_OPEN_AFTER_MS;
  }

  /** Why calls are held back, or undefined while the breaker is closed. */
  failure(now: number): EndpointFailure | undefined {
    if (this.failures < BREAK_AFTER || this.lastError === undefined) return undefined;
    return { host: this.host, error: this.lastError, retryInMs: Math.max(0, this.openUntil - now) };
  }
}

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/** One client's endpoint breakers, as etcd3 `faultHandling.host` policies. */
export class EtcdFaults {
  private readonly breakers = new Map<string, HostBreaker>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Open breakers and their last errors, the one refusing first. */
  failures(first: string): EndpointFailure[] {
    const t = this.now();
    const all = [...this.breakers.values()].map((b) => b.failure(t)).filter((f): f is EndpointFailure => f !== undefined);
    return [...all.filter((f) => f.host === first), ...all.filter((f) => f.host !== first)];
  }

  policy(host: string): HostPolicy {
    const b = new HostBreaker(host.replace(/^https?:\/\//, ''));
    this.breakers.set(b.host, b);
    const noEvent = () => ({ dispose: () => undefined });
    const policy = {
      onSuccess: noEvent,
      onFailure: noEvent,
      execute: async <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> => {
        if (!b.admit(this.now())) throw new EtcdUnavailableError(this.failures(b.host));
        try {
          const r = await fn({ signal: signal ?? new AbortController().signal });
          b.succeeded();
          return r;
        } catch (e) {
          if (e instanceof Error && etcd3().isRecoverableError(e)) b.failed(this.now(), errorMessage(e));
          else b.succeeded();
          throw e;
        }
      },
    };
    // etcd3 only calls execute(); the typed IPolicy also declares a virtual `_altReturn`.
    return policy as unknown as HostPolicy;
  }
}

/**
 * TLS to etcd as Go's client does it: the certificate is checked against the endpoint's host, and
 * no SNI is sent when that host is an IP address (RFC 6066). grpc-js always sets `servername`, which
 * makes Node print DEP0123 for https://<ip>:<port> endpoints.
 */
function etcdTlsCredentials(secureContext: SecureContext): Grpc.ChannelCredentials {
  const grpc = grpcJs();
  class EtcdTlsCredentials extends grpc.ChannelCredentials {
    constructor(private readonly secureContext: SecureContext) {
      super();
    }

    _isSecure(): boolean {
      return true;
    }

    _equals(other: Grpc.ChannelCredentials): boolean {
      return other === this;
    }

    _createSecureConnector(target: Grpc.experimental.GrpcUri, _options: Grpc.ChannelOptions, callCredentials?: Grpc.CallCredentials): Grpc.experimental.SecureConnector {
      const hp = grpc.experimental.splitHostPort(target.path);
      const host = hp?.host ?? target.path;
      const secureContext = this.secureContext;
      const creds = callCredentials ?? grpc.credentials.createEmpty();
      return {
        connect: (socket) =>
          new Promise((resolve, reject) => {
            const s = nodeTls().connect({ socket, secureContext, host, ...(isIP(host) === 0 && { servername: host }), ALPNProtocols: ['h2'] }, () => {
              if (!s.authorized) {
                s.destroy();
                reject(s.authorizationError);
                return;
              }
              resolve({ socket: s, secure: true });
            });
            s.once('error', reject);
          }),
        waitForReady: () => Promise.resolve(),
        getCallCredentials: () => creds,
        destroy: () => undefined,
      };
    }
  }
  return new EtcdTlsCredentials(secureContext);
}

/**
 * Channel options that give every etcd3 service channel our credentials. grpc-js deletes
 * `channelFactoryOverride` from the options object it is given, and etcd3 hands one object to every
 * service client, so the object keeps it (deletes are ignored).
 */
function tlsChannelOptions(creds: Grpc.ChannelCredentials): Grpc.ClientOptions {
  const grpc = grpcJs();
  const base: Grpc.ClientOptions = {
    ...MAX_RECEIVE,
    channelFactoryOverride: (address, _etcd3Credentials, options) => new grpc.Channel(address, creds, channelOnly(options)),
  };
  return new Proxy(base, { deleteProperty: () => true });
}

function channelOnly(options: Grpc.ClientOptions): Grpc.ChannelOptions {
  const { channelFactoryOverride: _f, channelOverride: _c, interceptors: _i, interceptor_providers: _p, callInvocationTransformer: _t, ...rest } = options;
  return rest;
}
