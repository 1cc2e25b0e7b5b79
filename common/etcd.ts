// The one place an etcd client is built from the flags every daemon shares (--etcd-endpoints and
// the TLS and auth flags), so flanneld, the kubelet and the proxy connect the same way.
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { errorMessage, FlannelError } from './errors.js';

export interface EtcdOptions {
  readonly endpoints: readonly string[];
  readonly keyfile?: string;
  readonly certfile?: string;
  readonly cafile?: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-call deadline in ms, so a hung etcd surfaces as an error instead of a stuck daemon. */
  readonly callTimeoutMs?: number;
}

export function createEtcdClient(o: EtcdOptions): Etcd3 {
  const opts: IOptions = {
    hosts: [...o.endpoints],
    dialTimeout: 5_000,
    ...(o.callTimeoutMs !== undefined && { defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + o.callTimeoutMs! }) }),
  };
  if (o.cafile || o.certfile || o.keyfile) {
    opts.credentials = {
      rootCertificate: o.cafile ? readFileSync(o.cafile) : Buffer.alloc(0),
      ...(o.keyfile && { privateKey: readFileSync(o.keyfile) }),
      ...(o.certfile && { certChain: readFileSync(o.certfile) }),
    };
  }
  if (o.username) opts.auth = { username: o.username, password: o.password ?? '' };
  return new Etcd3(opts);
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

export function etcdClientFromFlags(o: EtcdFlagValues, callTimeoutMs = 10_000): Etcd3 {
  return createEtcdClient({
    endpoints: o.etcdEndpoints,
    ...(o.etcdKeyfile && { keyfile: o.etcdKeyfile }),
    ...(o.etcdCertfile && { certfile: o.etcdCertfile }),
    ...(o.etcdCafile && { cafile: o.etcdCafile }),
    ...(o.etcdUsername && { username: o.etcdUsername }),
    ...(o.etcdPassword && { password: o.etcdPassword }),
    callTimeoutMs,
  });
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
