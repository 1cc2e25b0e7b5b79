// Seed 003's Job and CronJob (seed-manifests.ts has them as its slides print them) and the one fix each
// needs to run on today's Kubernetes, for the controller tests that run them.
import { SEED_003_CRONJOB, SEED_003_JOB } from './seed-manifests.js';

// `restartPolicy: Never` sits under the container, where a Job's pod has no such field: the pod
// template is left with the default Always, which a Job refuses.
export const SEED_003_PI_JOB = SEED_003_JOB;

/** The seed's Job with its `restartPolicy: Never` moved up to the pod spec, where it was meant to be. */
export const SEED_003_PI_JOB_FIXED = SEED_003_PI_JOB.replace('        restartPolicy: Never\n', '').replace('    spec:\n      containers:', '    spec:\n      restartPolicy: Never\n      containers:');

// batch/v1beta1, served here as a view of batch/v1 (Kubernetes itself removed it in 1.25).
export const SEED_003_HELLO_CRONJOB = SEED_003_CRONJOB;

/** The seed's CronJob under batch/v1, the version that replaced v1beta1 (same fields). */
export const SEED_003_HELLO_CRONJOB_V1 = SEED_003_HELLO_CRONJOB.replace('apiVersion: batch/v1beta1', 'apiVersion: batch/v1');
