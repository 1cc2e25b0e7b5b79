// Manifests of the seeds, as their users typed them, shared by the tests that replay them.

// db-rc.yaml of seed 000, with its `command:` flow list indented under the key: as printed there (at the
// key's own column) every YAML parser, kubectl's included, refuses it.
export const DB_RC = `apiVersion: v1
kind: ReplicationController
metadata:
  labels:
    name: db-controller
  name: db-controller
spec:
  replicas: 2
  selector:
    selectorname: db
  template:
    metadata:
      labels:
        name: db
        selectorname: db
    spec:
      containers:
      - image: dbforweb
        command:
          ["/usr/bin/mysqld_safe"]
        args: ["--basedir=/usr"]
        name: db
        ports:
        - containerPort: 3306
`;

// The rest of seed 000's example as printed there (it creates db-service, db-rc, ws-service, ws-rc in that order).
// ws-service.yaml's `publicIPs` is a v1beta3 field that v1 dropped (externalIPs replaced it): kubectl's
// validation refuses it, `--validate=false` drops it.
export const DB_SERVICE = `apiVersion: v1
kind: Service
metadata:
  labels:
    name: db
  name: db-service
  namespace: default
spec:
  ports:
  - port: 3306
  selector:
    name: db
`;

export const WS_SERVICE = `apiVersion: v1
kind: Service
metadata:
  labels:
    name: webserver
  name: webserve-service
  namespace: default
spec:
  ports:
  - port: 80
  publicIPs:
  - 192.168.122.15
  selector:
    name: webserver
`;

export const WS_RC = `apiVersion: v1
kind: ReplicationController
metadata:
  labels:
    name: webserver-controller
  name: webserver-controller
  namespace: default
spec:
  replicas: 2
  selector:
    selectorname: webserver
  template:
    metadata:
      labels:
        name: webserver
        selectorname: webserver
        uses: db
    spec:
      containers:
      - image: webwithdb
        name: apache-frontend
        command: ["/usr/sbin/httpd"]
        args: ["-D", "FOREGROUND"]
        ports:
        - containerPort: 80
`;

// Seed 003's manifests, exactly as its slides print them (test/integration/apiserver-old-versions-kubectl.test.ts
// replays them).
// The Deployment, in apps/v1beta1 (its selector left to the template's labels).
export const SEED_003_DEPLOYMENT = `apiVersion: apps/v1beta1
kind: Deployment
metadata:
  name: sise-deploy
spec:
  replicas: 2
  template:
    metadata:
      labels:
        app: sise
    spec:
      containers:
      - name: sise
        image: mhausenblas/simple-service:0.5.0
        ports:
        - containerPort: 9876
        env:
        - name: SIMPLE_SERVICE_VERSION
          value: "0.9"
`;

// The ConfigMap: its `newKey: |` block is printed at the key's own column, which every YAML parser, kubectl's
// included, refuses (the block would have to be indented under the key).
export const SEED_003_CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: myapp-config
data:
  key: value
  newKey: |
  very long value that
  can span multiple lines
  such as s config file
`;

// The Secret.
export const SEED_003_SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: mariadb-secrets
type: Opaque
data:
  root: cG9ydHVz
`;

// The NetworkPolicy, in extensions/v1beta1: its `ports` is printed at the column of `ingress`, a field of the spec
// (which the API does not have) instead of the rule's; validation refuses it, `--validate=false` drops it.
export const SEED_003_NETWORK_POLICY = `apiVersion: extensions/v1beta1
kind: NetworkPolicy
metadata:
  name: portus-registry
  namespace: scratch
spec:
  podSelector:
    matchLabels:
      app: registry
      tier: registry
  ingress:
    - from:
      - namespaceSelector:
          matchLabels:
            name: kube-ingress
      - podSelector:
          matchLabels:
            app: portus
            tier: registry
  ports:
    - protocol: TCP
      port: 5000
    - protocol: TCP
      port: 5001
`;

// The Ingress, in extensions/v1beta1 (serviceName/servicePort).
export const SEED_003_INGRESS = `apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: registry
  namespace: scratch
  annotations:
    kubernetes.io/tls-acme: "true"
spec:
  tls:
  - hosts:
    - registry.scratch.ioudaas.no
    secretName: registry-tls
  rules:
  - host: registry.scratch.ioudaas.no
    http:
      paths:
      - path: /
        backend:
          serviceName: registry
          servicePort: 5000
`;

// The Job: its `restartPolicy: Never` is a field of the container, not of the pod; a Job's pods must say
// Never or OnFailure, so the API refuses it as written.
export const SEED_003_JOB = `apiVersion: batch/v1
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

// The CronJob, in batch/v1beta1.
export const SEED_003_CRONJOB = `apiVersion: batch/v1beta1
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
