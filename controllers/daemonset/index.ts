// The DaemonSet controller: its pure decisions and its loop.
export * from './logic.js';
export { DaemonSetController, DAEMONSET_PREFIX } from './controller.js';
