// What can go wrong allocating a pod address, as typed errors: the CNI edge (cni/errors.ts) maps
// each class to its CNI error code, so nothing downstream reads a message. Messages keep the Go
// host-local wording, which operators already grep for.
import { FlannelError } from '../../core/index.js';

/** Every address of a range set is reserved. */
export class AddressesExhaustedError extends FlannelError {
  readonly code = 'ADDRESSES_EXHAUSTED';
  constructor(
    readonly rangeIndex: number,
    readonly rangeSet: string,
  ) {
    super(`failed to allocate for range ${rangeIndex}: no IP addresses available in range set: ${rangeSet}`);
  }
}

/** A requested address (CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips) cannot be given out. */
export class IpUnavailableError extends FlannelError {
  readonly code = 'IP_UNAVAILABLE';
  constructor(
    readonly ip: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** The container already holds an address in this range set (the spec forbids a second ADD). */
export class DuplicateAllocationError extends FlannelError {
  readonly code = 'DUPLICATE_ALLOCATION';
  constructor(
    readonly ip: string,
    readonly containerId: string,
    readonly rangeIndex: number,
  ) {
    super(`failed to allocate for range ${rangeIndex}: ${ip} has been allocated to ${containerId}, duplicate allocation is not allowed`);
  }
}

/** CHECK found no reservation for the container. */
export class NoReservationError extends FlannelError {
  readonly code = 'NO_RESERVATION';
  constructor(
    readonly containerId: string,
    readonly ifName: string,
  ) {
    super(`host-local: Failed to find address added by container ${containerId}`);
  }
}

/** The data directory's lock was not acquired in time: another plugin holds it; retry later. */
export class LockTimeoutError extends FlannelError {
  readonly code = 'LOCK_TIMEOUT';
  override readonly transient = true;
  constructor(
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super(`lock ${path} not acquired within ${timeoutMs} ms`);
  }
}

/** The disk store could not be read or written (permissions, a full disk, a missing flock(1)). */
export class StoreError extends FlannelError {
  readonly code = 'STORE';
  constructor(
    readonly op: string,
    readonly path: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${op} ${path}: ${reason}`, options);
  }
}

/** CNI_ARGS is not `K=V;K2=V2`, or names a key the plugin does not know without IgnoreUnknown. */
export class CniArgsError extends FlannelError {
  readonly code = 'CNI_ARGS';
  constructor(
    readonly pair: string,
    readonly reason: string,
  ) {
    super(`CNI_ARGS: ${reason}`);
  }
}
