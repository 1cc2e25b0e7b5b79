export { FlannelError, isTransient, errorMessage } from './errors.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export { AsyncQueue } from './queue.js';
export { createEtcdClient, etcdClientFromFlags, EtcdError, type EtcdFlagValues, type EtcdOptions } from './etcd.js';
export { sleep, Backoff } from './backoff.js';
export { SyncRunner, type SyncRunnerOptions } from './runner.js';
export { watchPrefix, listPrefix, type PrefixWatchBatch } from './etcd-watch.js';
export { listenHttp } from './http.js';
export {
  type FlagKind,
  type FlagSpec,
  type FlagTable,
  type GoFlagResult,
  FlagSyntaxError,
  flagTableOf,
  parseGoBool,
  parseGoFlags,
  normalizePflagArgs,
} from './cli-flags.js';
export { readEtcdV2Key, type V2Lookup } from './etcd-v2.js';
