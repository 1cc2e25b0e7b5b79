// CNI errors: a CniError carries the spec's code, a short `msg` and longer `details`, and is what
// the skeleton prints. toCniError is the one place where the domain errors of ipam/ become CNI
// codes (by class, never by message).
import { FlannelError, AddressError } from '../core/index.js';
import { ConfigError } from '../ipam/config.js';
import {
  AddressesExhaustedError,
  CniArgsError,
  DuplicateAllocationError,
  IpUnavailableError,
  JsonSyntaxError,
  LockTimeoutError,
  NoReservationError,
  StoreError,
} from '../ipam/host-local/index.js';
import { CniCode, type CniErrorJson, PluginCode } from './types.js';

export class CniError extends FlannelError {
  readonly code = 'CNI';
  override readonly transient: boolean;
  constructor(
    readonly cniCode: number,
    readonly msg: string,
    readonly details = '',
    options?: ErrorOptions,
  ) {
    super(details ? `${msg}: ${details}` : msg, options);
    this.transient = cniCode === CniCode.TryAgainLater;
  }

  toJson(cniVersion: string): CniErrorJson {
    return { cniVersion, code: this.cniCode, msg: this.msg, ...(this.details && { details: this.details }) };
  }
}

export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  const m = e instanceof Error ? e.message : String(e);
  const opts = { cause: e };
  if (e instanceof JsonSyntaxError) return new CniError(CniCode.DecodingFailure, 'error decoding network config', m, opts);
  if (e instanceof ConfigError) {
    const value = e.value === undefined ? '' : ` (${JSON.stringify(e.value)})`;
    return new CniError(CniCode.InvalidNetworkConfig, 'invalid network config', `${e.path}${value}: ${e.reason}`, opts);
  }
  if (e instanceof AddressError) return new CniError(CniCode.InvalidNetworkConfig, 'invalid network config', m, opts);
  if (e instanceof CniArgsError) return new CniError(CniCode.InvalidEnv, m, 'CNI_ARGS', opts);
  if (e instanceof AddressesExhaustedError) return new CniError(PluginCode.AddressesExhausted, m, '', opts);
  if (e instanceof IpUnavailableError) return new CniError(PluginCode.IpUnavailable, m, '', opts);
  if (e instanceof DuplicateAllocationError) return new CniError(PluginCode.DuplicateAllocation, m, '', opts);
  if (e instanceof NoReservationError) return new CniError(PluginCode.NoReservation, m, '', opts);
  if (e instanceof LockTimeoutError) return new CniError(CniCode.TryAgainLater, 'IPAM data directory is busy', m, opts);
  if (e instanceof StoreError) return new CniError(PluginCode.StoreFailure, 'IPAM store failure', m, opts);
  return new CniError(CniCode.Internal, m, '', opts);
}
