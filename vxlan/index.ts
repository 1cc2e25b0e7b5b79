export { vxlanBackend, VxlanNetwork, ENCAP_OVERHEAD, ReconcileError } from './backend.js';
export { parseVxlanConfig, renderVxlanConfig, type VxlanConfig, DEFAULT_VNI, DEFAULT_PORT } from './config.js';
export { desiredVxlanState, peerVtep, type FamilyPlane } from './desired.js';
export { stableVtepMac } from './mac.js';
