export { hostGwBackend, HostGwNetwork, HostGwError } from './backend.js';
export { desiredHostGwState, type RoutePlane } from './desired.js';
