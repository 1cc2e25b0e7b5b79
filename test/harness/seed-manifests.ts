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
