export * from './etcd.js';
export * from './fake-nft.js';
export * from './memory-registry.js';
export * from './apiserver.js';
export * from './command.js';
export { DB_RC } from './seed-manifests.js';
export * from './identities.js';
