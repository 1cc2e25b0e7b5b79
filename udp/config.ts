// The udp backend's part of the config: flannel's one field, Port (default 8285), validated with
// the field named, like the other backends.
import { jsonField } from '../common/index.js';
import { ConfigError } from '../ipam/index.js';

export interface UdpConfig {
  /** UDP port of the tunnel on every node (flannel uses one port cluster-wide; the lease carries none). */
  readonly port: number;
}

export const DEFAULT_UDP_PORT = 8285;

export function parseUdpConfig(raw: Readonly<Record<string, unknown>>): UdpConfig {
  // Go's key matching (flannel decodes the backend's JSON into a struct): any case, the last key wins.
  const get = (name: string): unknown => jsonField(raw, name);
  const port = get('Port');
  if (port === undefined || port === null || port === 0) return { port: DEFAULT_UDP_PORT };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError('Backend.Port', port, 'must be a whole number from 1 to 65535 (or 0 for the default 8285)');
  }
  return { port };
}

export function renderUdpConfig(c: UdpConfig): Record<string, unknown> {
  return { Type: 'udp', Port: c.port };
}
