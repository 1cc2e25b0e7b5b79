import { allocBackend, BackendRegistry } from '../backend/index.js';
import { hostGwBackend } from '../hostgw/index.js';
import { udpBackend } from '../udp/index.js';
import { vxlanBackend } from '../vxlan/index.js';

/** Every backend this flanneld can run. */
export const createBackendRegistry = (): BackendRegistry => new BackendRegistry([vxlanBackend, hostGwBackend, udpBackend, allocBackend]);
