// Errors of the netlink layer. npm `netlink` reports a kernel NLMSG_ERROR only as
// `Error('Request rejected: EEXIST')`; we read the errno from the NLMSG_ERROR ourselves (socket.ts) and
// `toNetlinkError` is the one place where anything the library throws becomes a NetlinkError.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { FlannelError } from '../common/index.js';

const NAME_OF_ERRNO: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>();
  // Aliases share a number; prefer the names the kernel headers and iproute2 print.
  for (const n of ['EAGAIN', 'EOPNOTSUPP', 'EDEADLK']) {
    const v = (constants.errno as Record<string, number | undefined>)[n];
    if (v !== undefined) m.set(v, n);
  }
  for (const [name, v] of Object.entries(constants.errno)) if (!m.has(v)) m.set(v, name);
  return m;
})();

/** "ENODEV" for 19; "E<n>" for numbers the platform does not name. */
export const errnoName = (errno: number): string => NAME_OF_ERRNO.get(errno) ?? `E${errno}`;

/** The errno number of a name such as "EEXIST", or undefined. */
export const errnoOf = (name: string): number | undefined =>
  (constants.errno as Record<string, number | undefined>)[name];

const strerror = (errno: number): string => getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';

export const E = {
  EEXIST: constants.errno.EEXIST,
  ENOENT: constants.errno.ENOENT,
  ENODEV: constants.errno.ENODEV,
  ESRCH: constants.errno.ESRCH,
  EADDRNOTAVAIL: constants.errno.EADDRNOTAVAIL,
  EINVAL: constants.errno.EINVAL,
  ETIMEDOUT: constants.errno.ETIMEDOUT,
  EBADF: constants.errno.EBADF,
  EPROTO: constants.errno.EPROTO,
  EINTR: constants.errno.EINTR,
  ENOBUFS: constants.errno.ENOBUFS,
} as const;

const TRANSIENT = new Set<number>(
  ['EAGAIN', 'EBUSY', 'EINTR', 'ENOBUFS', 'ENOMEM', 'ETIMEDOUT'].map((n) => errnoOf(n) ?? -1),
);

export type NetlinkOp =
  | 'createLink' | 'setLink' | 'deleteLink' | 'getLink' | 'dumpLinks'
  | 'addAddr' | 'deleteAddr' | 'dumpAddrs'
  | 'addRoute' | 'replaceRoute' | 'deleteRoute' | 'dumpRoutes'
  | 'addNeigh' | 'replaceNeigh' | 'deleteNeigh' | 'dumpNeighs'
  | 'addFdb' | 'deleteFdb' | 'dumpFdb'
  | 'watch';

/** A kernel (or socket) error for one operation on one object. */
export class NetlinkError extends FlannelError {
  readonly code = 'NETLINK';
  override readonly transient: boolean;
  /** "EEXIST", "ENODEV", ... */
  readonly errnoName: string;
  constructor(
    readonly op: NetlinkOp,
    /** e.g. "route 10.5.3.0/24 via 10.5.3.0 dev flannel.1 onlink" */
    readonly object: string,
    /** Positive errno. */
    readonly errno: number,
    options?: ErrorOptions & { detail?: string },
  ) {
    const name = errnoName(errno);
    super(`${op} ${object}: ${name} (${options?.detail ?? strerror(errno)})`, options);
    this.errnoName = name;
    this.transient = TRANSIENT.has(errno);
  }
}

/** A value handed to the layer that cannot be encoded (bad address, missing device reference). */
export class NetlinkInputError extends FlannelError {
  readonly code = 'NETLINK_INPUT';
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${field} ${JSON.stringify(value)}: ${reason}`);
  }
}

/** A link exists under the wanted name with properties we cannot accept (vxlanIncompat's result). */
export class LinkIncompatError extends FlannelError {
  readonly code = 'LINK_INCOMPAT';
  constructor(
    readonly link: string,
    readonly diff: string,
  ) {
    super(`link ${link} exists with incompatible properties: ${diff}`);
  }
}

/** The npm package's only report of a kernel error; matched here and nowhere else. */
const LIB_REJECTED = /^Request rejected: (E[A-Z0-9]+|-?\d+)$/;

function hasErrno(e: unknown): e is { errno: number; code?: unknown } {
  return typeof e === 'object' && e !== null && typeof (e as { errno?: unknown }).errno === 'number';
}

/**
 * The single conversion of whatever npm `netlink` throws into a NetlinkError: our own errors pass through,
 * the native socket's ErrnoException carries a positive errno, and the library's request helpers yield
 * `Request rejected: <CODE>` or `Timeout has been reached`.
 */
export function toNetlinkError(op: NetlinkOp, object: string, e: unknown): FlannelError {
  if (e instanceof FlannelError) return e;
  if (hasErrno(e)) return new NetlinkError(op, object, Math.abs(e.errno), { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  const m = LIB_REJECTED.exec(msg);
  if (m?.[1]) {
    const n = /^-?\d+$/.test(m[1]) ? Math.abs(Number(m[1])) : errnoOf(m[1]);
    if (n !== undefined) return new NetlinkError(op, object, n, { cause: e });
  }
  if (msg === 'Timeout has been reached') return new NetlinkError(op, object, E.ETIMEDOUT, { cause: e });
  return new NetlinkError(op, object, E.EPROTO, { cause: e, detail: msg });
}
