export { udpBackend, createUdpBackend, UdpNetwork, UdpBackendError, TUN_DEVICE, UDP_OVERHEAD, type UdpDeps } from './backend.js';
export { parseUdpConfig, renderUdpConfig, type UdpConfig, DEFAULT_UDP_PORT } from './config.js';
export { udpPeerTable, encodePeerTable, describePeerTable, type PeerEntry, type PeerTable } from './peers.js';
export {
  openNativeDataPath,
  classifyPacket,
  NativeAddonError,
  DataPathError,
  ADDON_FILE,
  nativeAddonPath,
  COUNTER_NAMES,
  type DataPath,
  type DataPathOptions,
  type DataPathStats,
  type OpenDataPath,
  type UdpCounters,
  type Verdict,
} from './native.js';
