// The Job controller: its pure decisions and its loop.
export * from './logic.js';
export { JobController, JOB_PREFIX } from './controller.js';
