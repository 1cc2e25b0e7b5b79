export type * from './types.js';
export { REGISTRY, keys, namespacedName } from './keys.js';
export { ObjectStore, ConflictError, decodeObject, prefixSource, type Stored, type Corrupt, type StoreWatchBatch, type TxnCondition, type TxnWrite } from './store.js';
export {
  InvalidObjectError,
  type Parser,
  type Schema,
  parserOf,
  object,
  list,
  mapOf,
  opt,
  orNull,
  either,
  oneOf,
  str,
  num,
  bool,
  anyObject,
  isJsonObject,
  parsePodObject,
  parseServiceObject,
  parseEndpointsObject,
  parseNodeObject,
  parseSecretObject,
  parseConfigMapObject,
  parseJsonObject,
} from './parse.js';
