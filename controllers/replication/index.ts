// The replication manager (ReplicationController, ReplicaSet): its pure decisions and its loop.
export * from './logic.js';
export { ReplicationManager, OWNER_PREFIX, type ReplicationManagerDeps } from './manager.js';
