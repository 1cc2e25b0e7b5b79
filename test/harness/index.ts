export * from './etcd.js';
export * from './fake-nft.js';
export * from './memory-registry.js';
export * from './apiserver.js';
export * from './command.js';
export { DB_RC } from './seed-manifests.js';
export { SEED_003_PI_JOB, SEED_003_PI_JOB_FIXED, SEED_003_HELLO_CRONJOB, SEED_003_HELLO_CRONJOB_V1 } from './seed-003-jobs.js';
