// CNI plugins (spec 1.0.0): the skeleton every plugin runs under, delegation, and two plugins:
// `flannel` (meta-plugin: subnet.env -> bridge + host-local) and `host-local` (IPAM). The
// executables are dist/cni/flannel and dist/cni/host-local (scripts/build-cni.mjs).
//
// cni/ imports core/, ipam's leaf modules (config.js, subnet-env.js) and ipam/host-local/index.js,
// never the ipam/index.js barrel: that one loads etcd3 and gRPC, about 400 ms per process here, and
// a runtime execs a plugin for every pod and command.
export { type CmdArgs, type AddOutput, type PluginFuncs, type PluginInfo, type SkelIo, type SkelOutcome, type PluginCommand, dispatch, pluginMain, processIo, invalidIfName, sameNetns } from './skel.js';
export { CniError, toCniError } from './errors.js';
export { CniCode, PluginCode, type CniResult, type CniIpConfig, type CniRoute, type CniDns, type CniInterface, type CniErrorJson, type CniVersionJson } from './types.js';
export { IMPLEMENTED_VERSION, SUPPORTED_VERSIONS, convertResult, parseVersion, versionAtLeast } from './version.js';
export { type PluginExec, type PluginRun, type DelegateVerb, delegate, delegateError, realExec, spawnExec, DEFAULT_DELEGATE_TIMEOUT_MS } from './invoke.js';
export { type PluginLog, type LogLevel, stderrLog, silentLog } from './log.js';
export { ipamResult, routeJson, ipConfigJson } from './result.js';
export {
  type FlannelNetConf,
  type FlannelEnv,
  type DelegateConfig,
  type DelegateIpam,
  SubnetFileError,
  DEFAULT_SUBNET_FILE,
  DEFAULT_FLANNEL_DATA_DIR,
  DEFAULT_BRIDGE,
  parseFlannelNetConf,
  parseFlannelEnv,
  buildDelegateConfig,
  renderDelegateConfig,
  flannelRanges,
} from './flannel-config.js';
export { type FlannelDeps, type FlannelFs, FLANNEL_PLUGIN_INFO, flannelPlugin, realFlannelDeps, realFlannelFs } from './flannel.js';
export { type HostLocalDeps, HOST_LOCAL_PLUGIN_INFO, hostLocalPlugin, realHostLocalDeps } from './host-local.js';
export {
  type NsId,
  type ShimRequest,
  type ShimResponse,
  FrameError,
  MAGIC,
  PROTOCOL_VERSION,
  READY,
  DECLINE,
  GO,
  MAX_FRAME,
  encodeRequest,
  decodeRequest,
  encodeResponse,
  decodeResponse,
  takeFrame,
  sameNamespaces,
} from './daemon-codec.js';
export { type CniDaemon, type CniDaemonOptions, type DaemonLog, type DaemonPlugin, type PluginFactory, ownNamespace, startCniDaemon } from './daemon-server.js';
export { DAEMON_PLUGINS, daemonPlugins } from './daemon-plugins.js';
