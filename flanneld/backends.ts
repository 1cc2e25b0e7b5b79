import { allocBackend, BackendRegistry } from '../backend/index.js';

/** Every backend this flanneld can run. */
export const createBackendRegistry = (): BackendRegistry => new BackendRegistry([allocBackend]);
