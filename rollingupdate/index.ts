// kubectl-rolling_update, the kubectl plugin for `kubectl rolling-update` (bin: main.ts).
export { parseArgs, HELP, DEFAULTS, FlagError, UsageError, type RollingUpdateArgs, type ConnectionFlags, type ParsedArgs } from './args.js';
export {
  ANNOTATIONS,
  LINES,
  RollingUpdateError,
  fenceposts,
  scaleUpTo,
  scaleDownTo,
  newControllerFrom,
  hashObject,
  isPodAvailable,
  selectorsDiffer,
  renameSourceOf,
  type Fenceposts,
} from './steps.js';
export { mergeKubeconfigs, kubeconfigCandidates, applyOverrides, resolveConnection } from './conn.js';
export { formatError } from './errors.js';
export { RcApi } from './api.js';
export { RollingUpdater } from './updater.js';
export { runRollingUpdate, readControllerFile } from './run.js';
