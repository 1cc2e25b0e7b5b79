// The kubelet's public surface: the node agent, its pure decision modules and the Docker client.
export { Kubelet, type KubeletConfig, type KubeletDeps } from './kubelet.js';
export { DockerClient, DockerError, DockerTimeoutError, DockerNoAnswerError, DockerBodyTooLargeError, MAX_BODY_BYTES, parseDockerEndpoint, demuxStream, dockerTime, parseContainerDetails, parseContainerList, type ContainerDetails, type ContainerSummary } from './docker.js';
export { PodRuntime, SandboxNetworkError, LABELS, DEFAULT_PAUSE_IMAGE, type RuntimePod, type RunningContainer, type ContainerRecord, type SandboxRecord } from './runtime.js';
export { computePodActions, shouldRestart, type PodActions } from './actions.js';
export { nextInitContainer, initializedCondition, initContainersOf, type InitProgress } from './init-containers.js';
export { computePodStatus, containerStatuses, initContainerStatuses, podPhase, invalidPodStatus, rfc3339, type StatusInput, type Waiting } from './status.js';
export { CrashLoopBackoff, DEFAULT_BACKOFF, backoffKey, type BackoffPolicy } from './backoff.js';
export { PodWorkers, systemClock, type PodSyncer, type SyncResult, type WorkerState, type WorkerClock } from './pod-workers.js';
export { ProbeManager, httpGetProbe, tcpProbe, type ProbeOutcome } from './prober.js';
export { serviceEnv, expand, resolveContainerEnv, secretData, ContainerConfigError, type EnvSources } from './env.js';
export {
  validatePod,
  InvalidPodError,
  parseQuantity,
  dockerResources,
  containerHash,
  probeSettings,
  resolvePort,
  uidFromHash,
  jsonHash,
} from './spec.js';
export { parseManifest, apiPodFor, StaticPodSource, storeCache, ANNOTATIONS, type StoreCache, type ClusterStore, type StaticPod, type ApiPod } from './sources.js';
export { readPodCIDR, podCIDRFromSubnetEnv, networkReadiness, SubnetFileError } from './subnet-file.js';
export { buildNode, markStale, readCapacity, NodeStatusManager, KUBELET_VERSION, MACHINE_FACTS_MS, SlowRefresh, type NodeFacts, type Readiness } from './node-status.js';
export { tarball, type TarEntry } from './tar.js';
export { setUpVolumes, bindsFor, emptyDirPath, VolumeError } from './volumes.js';
export { defaultRouteIface, detectNodeIp } from './netinfo.js';
export { addKubeletOptions, kubeletOptions, flagDuration, networkPlugin, dirList, type KubeletOptions, type NetworkPlugin } from './options.js';
export {
  chooseNetworkConfig,
  parseNetworkConfig,
  pluginConfig,
  pluginEnv,
  cniArgs,
  podIPs,
  cacheEntry,
  cacheFile,
  parseCacheEntry,
  delTakesPrevResult,
  netnsPath,
  isConfFile,
  pluginErrorText,
  CniConfigError,
  CNI_NOT_READY_MESSAGE,
  POD_IFNAME,
  type NetworkConfigList,
  type ConfigChoice,
  type CacheEntry,
  type PodRef,
} from './cni-config.js';
export { CniNetwork, CniPluginError, type CniNetworkOptions, type SandboxNetwork } from './cni-network.js';
export { type DockerSecurity, dockerSecurity, isHostNetwork } from './host-config.js';
