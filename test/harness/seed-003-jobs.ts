// Seed 003's Job and CronJob, as its author typed them (the slide "Job API" and "Job API CronJobs").
// Both are refused by a Kubernetes of today, each for its own reason; the tests replay that, then run
// them with the one fix each needs (SEED_003_PI_JOB_FIXED, SEED_003_HELLO_CRONJOB_V1).

// `restartPolicy: Never` sits under the container, where a Job's pod has no such field: the pod
// template is left with the default Always, which a Job refuses.
export const SEED_003_PI_JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi-with-timeout
spec:
  backoffLimit: 5
  activeDeadlineSeconds: 100
  template:
    metadata:
      name: pi
    spec:
      containers:
      - name: pi
        image: perl
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
        restartPolicy: Never
`;

/** The seed's Job with its `restartPolicy: Never` moved up to the pod spec, where it was meant to be. */
export const SEED_003_PI_JOB_FIXED = SEED_003_PI_JOB.replace('        restartPolicy: Never\n', '').replace('    spec:\n      containers:', '    spec:\n      restartPolicy: Never\n      containers:');

// batch/v1beta1 CronJob was removed in Kubernetes 1.25: kubectl finds no such kind.
export const SEED_003_HELLO_CRONJOB = `apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: hello
              image: busybox
              args:
                - /bin/sh
                - -c
                - date; echo Hello from the Kubernetes cluster
          restartPolicy: OnFailure
`;

/** The seed's CronJob under batch/v1, the version that replaced v1beta1 (same fields). */
export const SEED_003_HELLO_CRONJOB_V1 = SEED_003_HELLO_CRONJOB.replace('apiVersion: batch/v1beta1', 'apiVersion: batch/v1');
