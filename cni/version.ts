// Version negotiation: a plugin answers in the config's cniVersion, which must be one it supports
// (exact match, as the CNI library reconciles). Results are built as 1.0.0; for 0.3.x/0.4.0 each
// IP also carries "version": "4"|"6", the only difference in the fields we produce. Pure.
import type { CniIpConfig, CniResult } from './types.js';

export const IMPLEMENTED_VERSION = '1.0.0';
/** The result formats we can print (0.1.0/0.2.0 had a different result shape: not supported). */
export const SUPPORTED_VERSIONS: readonly string[] = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];
/** A config without cniVersion is 0.1.0, as the CNI library decodes it. */
export const DEFAULT_CONFIG_VERSION = '0.1.0';

/** [major, minor, patch], or undefined when the string is not a version. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(v);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** a >= b; false when either is not a version. */
export function versionAtLeast(a: string, b: string): boolean {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return false;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  return true;
}

/** The result as the given (supported) version prints it. */
export function convertResult(r: CniResult, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  const legacy = !versionAtLeast(version, '1.0.0');
  if (r.interfaces && r.interfaces.length > 0) out.interfaces = r.interfaces;
  if (r.ips && r.ips.length > 0) out.ips = legacy ? r.ips.map(withIpVersion) : r.ips;
  if (r.routes && r.routes.length > 0) out.routes = r.routes;
  if (r.dns && Object.keys(r.dns).length > 0) out.dns = r.dns;
  return out;
}

function withIpVersion(ip: CniIpConfig): Record<string, unknown> {
  return { version: ip.address.includes(':') ? '6' : '4', ...ip };
}
