// The dependency-free basics every part shares: errors, IPv4/IPv6 addresses, Go-compatible JSON field
// reading, atomic file writes, Go durations, small async helpers. A folder of its own because the CNI
// plugins (started once per pod) load it, and must not load what common/ brings (etcd3, pino).
export { FlannelError, isTransient, errorMessage } from './errors.js';
export {
  type Family,
  type IpAddr,
  type Cidr,
  AddressError,
  parseIp,
  isIp,
  formatIp,
  canonicalIp,
  parseCidr,
  parseCidrOrIp,
  formatCidr,
  ipToBytes,
  ipFromBytes,
  hostMask,
  blockSize,
  networkOf,
  hasHostBits,
  addIp,
  contains,
  overlaps,
  ipEqual,
  cidrEqual,
  familyBits,
} from './net.js';
export { writeFileAtomic } from './fs.js';
export {
  type JsonValue,
  type JsonObject,
  type JsonReaders,
  type FieldErrorFactory,
  isObject,
  isJsonObject,
  jsonField,
  jsonKey,
  jsonReaders,
  fieldPath,
  indexPath,
} from './json.js';
export { parseDuration, DurationError } from './duration.js';
export { withTimeout, mapLimit } from './async.js';
export { enableCjsCompileCache } from './compile-cache.js';
