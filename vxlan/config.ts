// The vxlan backend's part of the config: flannel's fields (VNI, Port, GBP, Learning,
// DirectRouting, MTU) with flannel's defaults, validated with the field named.
import { jsonField } from '../common/index.js';
import { ConfigError } from '../ipam/index.js';

export interface VxlanConfig {
  readonly vni: number;
  readonly port: number;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly directRouting: boolean;
  /** Device MTU; undefined: the underlay's MTU less the encapsulation overhead. */
  readonly mtu?: number;
}

export const DEFAULT_VNI = 1;
export const DEFAULT_PORT = 8472;

export function parseVxlanConfig(raw: Readonly<Record<string, unknown>>): VxlanConfig {
  // Go's key matching (flannel decodes the backend's JSON into a struct): any case, the last key wins.
  const get = (name: string): unknown => jsonField(raw, name);
  const int = (name: string, min: number, max: number): number | undefined => {
    const v = get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`Backend.${name}`, v, `must be a whole number from ${min} to ${max}`);
    }
    return v;
  };
  const bool = (name: string): boolean => {
    const v = get(name);
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw new ConfigError(`Backend.${name}`, v, 'must be true or false');
    return v;
  };
  const port = int('Port', 0, 65535);
  const mtu = int('MTU', 0, 65535);
  if (mtu !== undefined && mtu !== 0 && mtu < 576) throw new ConfigError('Backend.MTU', mtu, 'must be at least 576 (or 0 for the default)');
  return {
    vni: int('VNI', 0, 0xffffff) ?? DEFAULT_VNI,
    port: port === undefined || port === 0 ? DEFAULT_PORT : port,
    gbp: bool('GBP'),
    learning: bool('Learning'),
    directRouting: bool('DirectRouting'),
    ...(mtu ? { mtu } : {}),
  };
}

export function renderVxlanConfig(c: VxlanConfig): Record<string, unknown> {
  return {
    Type: 'vxlan',
    VNI: c.vni,
    Port: c.port,
    GBP: c.gbp,
    Learning: c.learning,
    DirectRouting: c.directRouting,
    ...(c.mtu !== undefined && { MTU: c.mtu }),
  };
}
