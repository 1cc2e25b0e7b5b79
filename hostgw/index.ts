export { hostGwBackend, HostGwNetwork, HostGwError } from './backend.js';
export { desiredHostGwState, type RoutePlane, type SkippedPeer } from './desired.js';
