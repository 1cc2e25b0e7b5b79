export * from './etcd.js';
export * from './fake-nft.js';
export * from './memory-registry.js';
export * from './apiserver.js';
export * from './command.js';
export { TinyDns, dnsQuery, dnsUdpRaw } from './dns.js';
export { DB_RC, DB_SERVICE, WS_RC, WS_SERVICE, SEED_003_CONFIGMAP, SEED_003_CRONJOB, SEED_003_DEPLOYMENT, SEED_003_INGRESS, SEED_003_JOB, SEED_003_NETWORK_POLICY, SEED_003_SECRET } from './seed-manifests.js';
export * from './identities.js';
export { SEED_003_PI_JOB, SEED_003_PI_JOB_FIXED, SEED_003_HELLO_CRONJOB, SEED_003_HELLO_CRONJOB_V1 } from './seed-003-jobs.js';
