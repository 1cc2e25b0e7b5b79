// The CNI wire types (spec 1.0.0, section 5) and the spec's error codes. Results are built as
// 1.0.0 and converted for older config versions on output (version.ts).

/** The spec's reserved error codes; 100 and above are ours (see PLUGIN_CODES). */
export const CniCode = {
  /** Incompatible CNI version. */
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  /** Invalid necessary environment variables (the message names them). */
  InvalidEnv: 4,
  IoFailure: 5,
  /** Failed to decode content (e.g. the network config is not JSON). */
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  InvalidNetns: 8,
  /** A transient condition: the runtime should retry later. */
  TryAgainLater: 11,
  Internal: 999,
} as const;

/** Plugin-specific codes (the spec leaves 100+ to plugins). */
export const PluginCode = {
  /** host-local: no free address in a range set. */
  AddressesExhausted: 100,
  /** host-local: a requested address is taken, outside the ranges, or a gateway. */
  IpUnavailable: 101,
  /** host-local: the container already holds an address in the range set. */
  DuplicateAllocation: 102,
  /** host-local CHECK: no reservation for the container. */
  NoReservation: 103,
  /** host-local: the data directory could not be read or written. */
  StoreFailure: 104,
  /** flannel: subnet.env is incomplete or malformed. */
  BadSubnetFile: 120,
  /** flannel: the delegate plugin is not on CNI_PATH. */
  DelegateNotFound: 121,
  /** flannel: the delegate failed without a CNI error on stdout, or printed no result. */
  DelegateFailed: 122,
  /** flannel CHECK: no saved delegate config for the container. */
  NotAdded: 123,
  /** flannel CHECK: flanneld's subnet changed since ADD (the pod's address is stale). */
  SubnetChanged: 124,
} as const;

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly sandbox?: string;
  readonly socketPath?: string;
  readonly pciID?: string;
}

export interface CniIpConfig {
  /** Index into `interfaces`; absent in an IPAM plugin's result. */
  readonly interface?: number;
  /** CIDR notation: the address with its subnet's prefix length. */
  readonly address: string;
  readonly gateway?: string;
}

export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}

export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** An ADD result in spec 1.0.0 form. */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIpConfig[];
  readonly routes?: readonly CniRoute[];
  readonly dns?: CniDns;
}

/** The error object a plugin prints on stdout (and exits non-zero). */
export interface CniErrorJson {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

export interface CniVersionJson {
  readonly cniVersion: string;
  readonly supportedVersions: readonly string[];
}
