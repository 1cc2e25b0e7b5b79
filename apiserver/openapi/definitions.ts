// The schemas of the kinds we serve, as compact data: the source of /openapi/v2 and /openapi/v3.
//
// kubectl validates a manifest against these before sending it (1.20 always; newer ones when the
// server does not take `fieldValidation`), refusing a field a described object does not list. So
// an object here is either described completely (every field of the Kubernetes 1.32 type, so a
// valid manifest passes) or left open (`object`: any keys, as kube-openapi reads a schema of type
// object without properties). Required fields are the API's own (`containers`, a container's
// `name`); what the API checks itself (a container's image) is left to the server's 422.

/** A field's type: a primitive, a reference to a definition (`#Name`), a list or a map of one. */
export type FieldType =
  | 'string'
  | 'boolean'
  | 'int32'
  | 'int64'
  | 'number'
  | 'byte'
  | 'date-time'
  | 'object'
  | 'any'
  | `#${string}`
  | readonly ['array', FieldType]
  | readonly ['map', FieldType];

export interface Definition {
  /** Set for a top-level kind: [group, version, kind]. */
  readonly gvk?: readonly [string, string, string];
  readonly description: string;
  readonly required?: readonly string[];
  readonly properties: Readonly<Record<string, FieldType>>;
}

const arr = (t: FieldType): readonly ['array', FieldType] => ['array', t];
const map = (t: FieldType): readonly ['map', FieldType] => ['map', t];
const strs = arr('string');
const strMap = map('string');

// Short names: the real definition names are long and kubectl prints them in its errors
// ("missing required field "name" in io.k8s.api.core.v1.Container").
export const CORE = 'io.k8s.api.core.v1.';
export const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const APPS = 'io.k8s.api.apps.v1.';
const BATCH = 'io.k8s.api.batch.v1.';
const NET = 'io.k8s.api.networking.v1.';
const COORD = 'io.k8s.api.coordination.v1.';
const AUTOSCALING = 'io.k8s.api.autoscaling.v1.';
const RBAC = 'io.k8s.api.rbac.v1.';
const AUTHZ = 'io.k8s.api.authorization.v1.';
const APPS_BETA = 'io.k8s.api.apps.v1beta1.';
const EXT = 'io.k8s.api.extensions.v1beta1.';
const BATCH_BETA = 'io.k8s.api.batch.v1beta1.';
const AUTHN = 'io.k8s.api.authentication.v1.';
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const TIME = `${META}Time`;
export const MICRO_TIME = `${META}MicroTime`;

const ref = (name: string): `#${string}` => `#${name}`;
const objectMeta = ref(`${META}ObjectMeta`);
const podTemplate = ref(`${CORE}PodTemplateSpec`);
const labelSelector = ref(`${META}LabelSelector`);
const time = ref(TIME);
const quantity = ref(QUANTITY);
const intOrString = ref(INT_OR_STRING);

/** The fields every top-level kind has besides its own. */
function kind(
  gvk: readonly [string, string, string],
  description: string,
  properties: Record<string, FieldType>,
  required?: readonly string[],
): Definition {
  return {
    gvk,
    description,
    ...(required ? { required } : {}),
    properties: {
      apiVersion: 'string',
      kind: 'string',
      metadata: objectMeta,
      ...properties,
    },
  };
}

const container: Record<string, FieldType> = {
  args: strs,
  command: strs,
  env: arr(ref(`${CORE}EnvVar`)),
  envFrom: arr('object'),
  image: 'string',
  imagePullPolicy: 'string',
  lifecycle: 'object',
  livenessProbe: 'object',
  name: 'string',
  ports: arr(ref(`${CORE}ContainerPort`)),
  readinessProbe: 'object',
  resizePolicy: arr('object'),
  resources: ref(`${CORE}ResourceRequirements`),
  restartPolicy: 'string',
  securityContext: 'object',
  startupProbe: 'object',
  stdin: 'boolean',
  stdinOnce: 'boolean',
  terminationMessagePath: 'string',
  terminationMessagePolicy: 'string',
  tty: 'boolean',
  volumeDevices: arr('object'),
  volumeMounts: arr(ref(`${CORE}VolumeMount`)),
  workingDir: 'string',
};

const volumeSources = [
  'awsElasticBlockStore', 'azureDisk', 'azureFile', 'cephfs', 'cinder', 'configMap', 'csi', 'downwardAPI', 'emptyDir',
  'ephemeral', 'fc', 'flexVolume', 'flocker', 'gcePersistentDisk', 'gitRepo', 'glusterfs', 'hostPath', 'image', 'iscsi',
  'nfs', 'persistentVolumeClaim', 'photonPersistentDisk', 'portworxVolume', 'projected', 'quobyte', 'rbd', 'scaleIO',
  'secret', 'storageos', 'vsphereVolume',
];

/** A beta Deployment: its selector may be left out (defaulted from the template's labels), and it has rollbackTo. */
function betaDeployment(prefix: string, group: string): Record<string, Definition> {
  return {
    [`${prefix}Deployment`]: kind([group, 'v1beta1', 'Deployment'], 'DEPRECATED - This group version of Deployment is deprecated by apps/v1/Deployment. See the release notes for more information. Deployment enables declarative updates for Pods and ReplicaSets.', {
      spec: ref(`${prefix}DeploymentSpec`),
      status: 'object',
    }),
    [`${prefix}DeploymentSpec`]: {
      description: 'DeploymentSpec is the specification of the desired behavior of the Deployment.',
      required: ['template'],
      properties: {
        minReadySeconds: 'int32',
        paused: 'boolean',
        progressDeadlineSeconds: 'int32',
        replicas: 'int32',
        revisionHistoryLimit: 'int32',
        rollbackTo: ref(`${prefix}RollbackConfig`),
        selector: labelSelector,
        strategy: 'object',
        template: podTemplate,
      },
    },
    [`${prefix}RollbackConfig`]: {
      description: 'DEPRECATED.',
      properties: { revision: 'int64' },
    },
  };
}

export const DEFINITIONS: Readonly<Record<string, Definition>> = {
  // ---- meta ----
  [`${META}ObjectMeta`]: {
    description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
    properties: {
      annotations: strMap,
      creationTimestamp: time,
      deletionGracePeriodSeconds: 'int64',
      deletionTimestamp: time,
      finalizers: strs,
      generateName: 'string',
      generation: 'int64',
      labels: strMap,
      managedFields: arr('object'),
      name: 'string',
      namespace: 'string',
      ownerReferences: arr(ref(`${META}OwnerReference`)),
      resourceVersion: 'string',
      selfLink: 'string',
      uid: 'string',
    },
  },
  [`${META}OwnerReference`]: {
    description: 'OwnerReference contains enough information to let you identify an owning object.',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    properties: { apiVersion: 'string', blockOwnerDeletion: 'boolean', controller: 'boolean', kind: 'string', name: 'string', uid: 'string' },
  },
  [`${META}LabelSelector`]: {
    description: 'A label selector is a label query over a set of resources.',
    properties: { matchExpressions: arr(ref(`${META}LabelSelectorRequirement`)), matchLabels: strMap },
  },
  [`${META}LabelSelectorRequirement`]: {
    description: 'A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.',
    required: ['key', 'operator'],
    properties: { key: 'string', operator: 'string', values: strs },
  },

  // ---- core/v1 ----
  [`${CORE}Pod`]: kind(['', 'v1', 'Pod'], 'Pod is a collection of containers that can run on a host.', {
    spec: ref(`${CORE}PodSpec`),
    status: 'object',
  }),
  [`${CORE}PodTemplateSpec`]: {
    description: 'PodTemplateSpec describes the data a pod should have when created from a template',
    properties: { metadata: objectMeta, spec: ref(`${CORE}PodSpec`) },
  },
  [`${CORE}PodSpec`]: {
    description: 'PodSpec is a description of a pod.',
    required: ['containers'],
    properties: {
      activeDeadlineSeconds: 'int64',
      affinity: 'object',
      automountServiceAccountToken: 'boolean',
      containers: arr(ref(`${CORE}Container`)),
      dnsConfig: 'object',
      dnsPolicy: 'string',
      enableServiceLinks: 'boolean',
      ephemeralContainers: arr('object'),
      hostAliases: arr('object'),
      hostIPC: 'boolean',
      hostNetwork: 'boolean',
      hostPID: 'boolean',
      hostUsers: 'boolean',
      hostname: 'string',
      imagePullSecrets: arr(ref(`${CORE}LocalObjectReference`)),
      initContainers: arr(ref(`${CORE}Container`)),
      nodeName: 'string',
      nodeSelector: strMap,
      os: 'object',
      overhead: map(quantity),
      preemptionPolicy: 'string',
      priority: 'int32',
      priorityClassName: 'string',
      readinessGates: arr('object'),
      resourceClaims: arr('object'),
      resources: ref(`${CORE}ResourceRequirements`),
      restartPolicy: 'string',
      runtimeClassName: 'string',
      schedulerName: 'string',
      schedulingGates: arr('object'),
      securityContext: 'object',
      serviceAccount: 'string',
      serviceAccountName: 'string',
      setHostnameAsFQDN: 'boolean',
      shareProcessNamespace: 'boolean',
      subdomain: 'string',
      terminationGracePeriodSeconds: 'int64',
      tolerations: arr('object'),
      topologySpreadConstraints: arr('object'),
      volumes: arr(ref(`${CORE}Volume`)),
    },
  },
  [`${CORE}Container`]: {
    description: 'A single application container that you want to run within a pod.',
    required: ['name'],
    properties: container,
  },
  [`${CORE}ContainerPort`]: {
    description: 'ContainerPort represents a network port in a single container.',
    required: ['containerPort'],
    properties: { containerPort: 'int32', hostIP: 'string', hostPort: 'int32', name: 'string', protocol: 'string' },
  },
  [`${CORE}EnvVar`]: {
    description: 'EnvVar represents an environment variable present in a Container.',
    required: ['name'],
    properties: { name: 'string', value: 'string', valueFrom: 'object' },
  },
  [`${CORE}VolumeMount`]: {
    description: 'VolumeMount describes a mounting of a Volume within a container.',
    required: ['name', 'mountPath'],
    properties: {
      mountPath: 'string',
      mountPropagation: 'string',
      name: 'string',
      readOnly: 'boolean',
      recursiveReadOnly: 'string',
      subPath: 'string',
      subPathExpr: 'string',
    },
  },
  [`${CORE}Volume`]: {
    description: 'Volume represents a named volume in a pod that may be accessed by any container in the pod.',
    required: ['name'],
    properties: { name: 'string', ...Object.fromEntries(volumeSources.map((s) => [s, 'object' as FieldType])) },
  },
  [`${CORE}ResourceRequirements`]: {
    description: 'ResourceRequirements describes the compute resource requirements.',
    properties: { claims: arr('object'), limits: map(quantity), requests: map(quantity) },
  },
  [`${CORE}LocalObjectReference`]: {
    description: 'LocalObjectReference contains enough information to let you locate the referenced object inside the same namespace.',
    properties: { name: 'string' },
  },
  [`${CORE}ObjectReference`]: {
    description: 'ObjectReference contains enough information to let you inspect or modify the referred object.',
    properties: {
      apiVersion: 'string',
      fieldPath: 'string',
      kind: 'string',
      name: 'string',
      namespace: 'string',
      resourceVersion: 'string',
      uid: 'string',
    },
  },
  [`${CORE}Service`]: kind(['', 'v1', 'Service'], 'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.', {
    spec: ref(`${CORE}ServiceSpec`),
    status: 'object',
  }),
  [`${CORE}ServiceSpec`]: {
    description: 'ServiceSpec describes the attributes that a user creates on a service.',
    properties: {
      allocateLoadBalancerNodePorts: 'boolean',
      clusterIP: 'string',
      clusterIPs: strs,
      externalIPs: strs,
      externalName: 'string',
      externalTrafficPolicy: 'string',
      healthCheckNodePort: 'int32',
      internalTrafficPolicy: 'string',
      ipFamilies: strs,
      ipFamilyPolicy: 'string',
      loadBalancerClass: 'string',
      loadBalancerIP: 'string',
      loadBalancerSourceRanges: strs,
      ports: arr(ref(`${CORE}ServicePort`)),
      publishNotReadyAddresses: 'boolean',
      selector: strMap,
      sessionAffinity: 'string',
      sessionAffinityConfig: 'object',
      trafficDistribution: 'string',
      type: 'string',
    },
  },
  [`${CORE}ServicePort`]: {
    description: "ServicePort contains information on service's port.",
    required: ['port'],
    properties: { appProtocol: 'string', name: 'string', nodePort: 'int32', port: 'int32', protocol: 'string', targetPort: intOrString },
  },
  [`${CORE}Endpoints`]: kind(['', 'v1', 'Endpoints'], 'Endpoints is a collection of endpoints that implement the actual service.', {
    subsets: arr(ref(`${CORE}EndpointSubset`)),
  }),
  [`${CORE}EndpointSubset`]: {
    description: 'EndpointSubset is a group of addresses with a common set of ports.',
    properties: {
      addresses: arr(ref(`${CORE}EndpointAddress`)),
      notReadyAddresses: arr(ref(`${CORE}EndpointAddress`)),
      ports: arr(ref(`${CORE}EndpointPort`)),
    },
  },
  [`${CORE}EndpointAddress`]: {
    description: 'EndpointAddress is a tuple that describes single IP address.',
    required: ['ip'],
    properties: { hostname: 'string', ip: 'string', nodeName: 'string', targetRef: ref(`${CORE}ObjectReference`) },
  },
  [`${CORE}EndpointPort`]: {
    description: 'EndpointPort is a tuple that describes a single port.',
    required: ['port'],
    properties: { appProtocol: 'string', name: 'string', port: 'int32', protocol: 'string' },
  },
  [`${CORE}Node`]: kind(['', 'v1', 'Node'], 'Node is a worker node in Kubernetes.', { spec: ref(`${CORE}NodeSpec`), status: 'object' }),
  [`${CORE}NodeSpec`]: {
    description: 'NodeSpec describes the attributes that a node is created with.',
    properties: {
      configSource: 'object',
      externalID: 'string',
      podCIDR: 'string',
      podCIDRs: strs,
      providerID: 'string',
      taints: arr(ref(`${CORE}Taint`)),
      unschedulable: 'boolean',
    },
  },
  [`${CORE}Taint`]: {
    description: 'The node this Taint is attached to has the "effect" on any pod that does not tolerate the Taint.',
    required: ['key', 'effect'],
    properties: { effect: 'string', key: 'string', timeAdded: time, value: 'string' },
  },
  [`${CORE}Namespace`]: kind(['', 'v1', 'Namespace'], 'Namespace provides a scope for Names.', {
    spec: ref(`${CORE}NamespaceSpec`),
    status: 'object',
  }),
  [`${CORE}NamespaceSpec`]: {
    description: 'NamespaceSpec describes the attributes on a Namespace.',
    properties: { finalizers: strs },
  },
  [`${CORE}ReplicationController`]: kind(['', 'v1', 'ReplicationController'], 'ReplicationController represents the configuration of a replication controller.', {
    spec: ref(`${CORE}ReplicationControllerSpec`),
    status: 'object',
  }),
  [`${CORE}ReplicationControllerSpec`]: {
    description: 'ReplicationControllerSpec is the specification of a replication controller.',
    properties: { minReadySeconds: 'int32', replicas: 'int32', selector: strMap, template: podTemplate },
  },
  [`${CORE}Secret`]: kind(['', 'v1', 'Secret'], 'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.', {
    data: map('byte'),
    immutable: 'boolean',
    stringData: strMap,
    type: 'string',
  }),
  [`${CORE}ConfigMap`]: kind(['', 'v1', 'ConfigMap'], 'ConfigMap holds configuration data for pods to consume.', {
    binaryData: map('byte'),
    data: strMap,
    immutable: 'boolean',
  }),
  [`${CORE}Event`]: kind(
    ['', 'v1', 'Event'],
    'Event is a report of an event somewhere in the cluster.',
    {
      action: 'string',
      count: 'int32',
      eventTime: ref(MICRO_TIME),
      firstTimestamp: time,
      involvedObject: ref(`${CORE}ObjectReference`),
      lastTimestamp: time,
      message: 'string',
      reason: 'string',
      related: ref(`${CORE}ObjectReference`),
      reportingComponent: 'string',
      reportingInstance: 'string',
      series: 'object',
      source: 'object',
      type: 'string',
    },
    ['metadata', 'involvedObject'],
  ),
  [`${CORE}ServiceAccount`]: kind(['', 'v1', 'ServiceAccount'], 'ServiceAccount binds together: a name, understood by users, and perhaps by peripheral systems, for an identity; a principal that can be authenticated and authorized; a set of secrets.', {
    automountServiceAccountToken: 'boolean',
    imagePullSecrets: arr(ref(`${CORE}LocalObjectReference`)),
    secrets: arr(ref(`${CORE}ObjectReference`)),
  }),
  [`${CORE}LimitRange`]: kind(['', 'v1', 'LimitRange'], 'LimitRange sets resource usage limits for each kind of resource in a Namespace.', { spec: ref(`${CORE}LimitRangeSpec`) }),
  [`${CORE}LimitRangeSpec`]: {
    description: 'LimitRangeSpec defines a min/max usage limit for resources that match on kind.',
    required: ['limits'],
    properties: { limits: arr(ref(`${CORE}LimitRangeItem`)) },
  },
  [`${CORE}LimitRangeItem`]: {
    description: 'LimitRangeItem defines a min/max usage limit for any resource that matches on kind.',
    required: ['type'],
    properties: { default: map(quantity), defaultRequest: map(quantity), max: map(quantity), maxLimitRequestRatio: map(quantity), min: map(quantity), type: 'string' },
  },
  [`${CORE}ResourceQuota`]: kind(['', 'v1', 'ResourceQuota'], 'ResourceQuota sets aggregate quota restrictions enforced per namespace', {
    spec: ref(`${CORE}ResourceQuotaSpec`),
    status: ref(`${CORE}ResourceQuotaStatus`),
  }),
  [`${CORE}ResourceQuotaSpec`]: {
    description: 'ResourceQuotaSpec defines the desired hard limits to enforce for Quota.',
    properties: { hard: map(quantity), scopeSelector: 'object', scopes: strs },
  },
  [`${CORE}ResourceQuotaStatus`]: {
    description: 'ResourceQuotaStatus defines the enforced hard limits and observed use.',
    properties: { hard: map(quantity), used: map(quantity) },
  },
  [`${CORE}ComponentStatus`]: kind(['', 'v1', 'ComponentStatus'], 'ComponentStatus (and ComponentStatusList) holds the cluster validation info.', {
    conditions: arr('object'),
  }),

  // ---- apps/v1 ----
  [`${APPS}Deployment`]: kind(['apps', 'v1', 'Deployment'], 'Deployment enables declarative updates for Pods and ReplicaSets.', {
    spec: ref(`${APPS}DeploymentSpec`),
    status: 'object',
  }),
  [`${APPS}DeploymentSpec`]: {
    description: 'DeploymentSpec is the specification of the desired behavior of the Deployment.',
    required: ['selector', 'template'],
    properties: {
      minReadySeconds: 'int32',
      paused: 'boolean',
      progressDeadlineSeconds: 'int32',
      replicas: 'int32',
      revisionHistoryLimit: 'int32',
      selector: labelSelector,
      strategy: 'object',
      template: podTemplate,
    },
  },
  [`${APPS}ReplicaSet`]: kind(['apps', 'v1', 'ReplicaSet'], 'ReplicaSet ensures that a specified number of pod replicas are running at any given time.', {
    spec: ref(`${APPS}ReplicaSetSpec`),
    status: 'object',
  }),
  [`${APPS}ReplicaSetSpec`]: {
    description: 'ReplicaSetSpec is the specification of a ReplicaSet.',
    required: ['selector'],
    properties: { minReadySeconds: 'int32', replicas: 'int32', selector: labelSelector, template: podTemplate },
  },
  [`${APPS}DaemonSet`]: kind(['apps', 'v1', 'DaemonSet'], 'DaemonSet represents the configuration of a daemon set.', {
    spec: ref(`${APPS}DaemonSetSpec`),
    status: 'object',
  }),
  [`${APPS}DaemonSetSpec`]: {
    description: 'DaemonSetSpec is the specification of a daemon set.',
    required: ['selector', 'template'],
    properties: { minReadySeconds: 'int32', revisionHistoryLimit: 'int32', selector: labelSelector, template: podTemplate, updateStrategy: 'object' },
  },

  // ---- batch/v1 ----
  [`${BATCH}Job`]: kind(['batch', 'v1', 'Job'], 'Job represents the configuration of a single job.', { spec: ref(`${BATCH}JobSpec`), status: 'object' }),
  [`${BATCH}JobSpec`]: {
    description: 'JobSpec describes how the job execution will look like.',
    required: ['template'],
    properties: {
      activeDeadlineSeconds: 'int64',
      backoffLimit: 'int32',
      backoffLimitPerIndex: 'int32',
      completionMode: 'string',
      completions: 'int32',
      managedBy: 'string',
      manualSelector: 'boolean',
      maxFailedIndexes: 'int32',
      parallelism: 'int32',
      podFailurePolicy: 'object',
      podReplacementPolicy: 'string',
      selector: labelSelector,
      successPolicy: 'object',
      suspend: 'boolean',
      template: podTemplate,
      ttlSecondsAfterFinished: 'int32',
    },
  },
  [`${BATCH}CronJob`]: kind(['batch', 'v1', 'CronJob'], 'CronJob represents the configuration of a single cron job.', {
    spec: ref(`${BATCH}CronJobSpec`),
    status: 'object',
  }),
  [`${BATCH}CronJobSpec`]: {
    description: 'CronJobSpec describes how the job execution will look like and when it will actually run.',
    required: ['schedule', 'jobTemplate'],
    properties: {
      concurrencyPolicy: 'string',
      failedJobsHistoryLimit: 'int32',
      jobTemplate: ref(`${BATCH}JobTemplateSpec`),
      schedule: 'string',
      startingDeadlineSeconds: 'int64',
      successfulJobsHistoryLimit: 'int32',
      suspend: 'boolean',
      timeZone: 'string',
    },
  },
  [`${BATCH}JobTemplateSpec`]: {
    description: 'JobTemplateSpec describes the data a Job should have when created from a template',
    properties: { metadata: objectMeta, spec: ref(`${BATCH}JobSpec`) },
  },

  // ---- networking.k8s.io/v1 ----
  [`${NET}NetworkPolicy`]: kind(['networking.k8s.io', 'v1', 'NetworkPolicy'], 'NetworkPolicy describes what network traffic is allowed for a set of Pods', {
    spec: ref(`${NET}NetworkPolicySpec`),
  }),
  [`${NET}NetworkPolicySpec`]: {
    description: 'NetworkPolicySpec provides the specification of a NetworkPolicy',
    properties: { egress: arr('object'), ingress: arr('object'), podSelector: labelSelector, policyTypes: strs },
  },
  [`${NET}Ingress`]: kind(['networking.k8s.io', 'v1', 'Ingress'], 'Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend.', {
    spec: ref(`${NET}IngressSpec`),
    status: 'object',
  }),
  [`${NET}IngressSpec`]: {
    description: 'IngressSpec describes the Ingress the user wishes to exist.',
    properties: { defaultBackend: 'object', ingressClassName: 'string', rules: arr('object'), tls: arr('object') },
  },

  // ---- the older group versions served as views of the current kinds (Kubernetes 1.15's fields) ----
  ...betaDeployment(APPS_BETA, 'apps'),
  ...betaDeployment(EXT, 'extensions'),
  [`${EXT}ReplicaSet`]: kind(['extensions', 'v1beta1', 'ReplicaSet'], 'ReplicaSet ensures that a specified number of pod replicas are running at any given time.', {
    spec: ref(`${EXT}ReplicaSetSpec`),
    status: 'object',
  }),
  [`${EXT}ReplicaSetSpec`]: {
    description: 'ReplicaSetSpec is the specification of a ReplicaSet.',
    properties: { minReadySeconds: 'int32', replicas: 'int32', selector: labelSelector, template: podTemplate },
  },
  [`${EXT}DaemonSet`]: kind(['extensions', 'v1beta1', 'DaemonSet'], 'DaemonSet represents the configuration of a daemon set.', {
    spec: ref(`${EXT}DaemonSetSpec`),
    status: 'object',
  }),
  [`${EXT}DaemonSetSpec`]: {
    description: 'DaemonSetSpec is the specification of a daemon set.',
    required: ['template'],
    properties: { minReadySeconds: 'int32', revisionHistoryLimit: 'int32', selector: labelSelector, template: podTemplate, templateGeneration: 'int64', updateStrategy: 'object' },
  },
  [`${EXT}NetworkPolicy`]: kind(['extensions', 'v1beta1', 'NetworkPolicy'], 'DEPRECATED 1.9 - This group version of NetworkPolicy is deprecated by networking/v1/NetworkPolicy. NetworkPolicy describes what network traffic is allowed for a set of Pods', {
    spec: ref(`${EXT}NetworkPolicySpec`),
  }),
  [`${EXT}NetworkPolicySpec`]: {
    description: 'DEPRECATED 1.9 - This group version of NetworkPolicySpec is deprecated by networking/v1/NetworkPolicySpec.',
    properties: { egress: arr('object'), ingress: arr('object'), podSelector: labelSelector, policyTypes: strs },
  },
  [`${EXT}Ingress`]: kind(['extensions', 'v1beta1', 'Ingress'], 'Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend. DEPRECATED - This group version of Ingress is deprecated by networking.k8s.io/v1 Ingress.', {
    spec: ref(`${EXT}IngressSpec`),
    status: 'object',
  }),
  [`${EXT}IngressSpec`]: {
    description: 'IngressSpec describes the Ingress the user wishes to exist.',
    properties: { backend: 'object', ingressClassName: 'string', rules: arr('object'), tls: arr('object') },
  },
  [`${BATCH_BETA}CronJob`]: kind(['batch', 'v1beta1', 'CronJob'], 'CronJob represents the configuration of a single cron job.', {
    spec: ref(`${BATCH_BETA}CronJobSpec`),
    status: 'object',
  }),
  [`${BATCH_BETA}CronJobSpec`]: {
    description: 'CronJobSpec describes how the job execution will look like and when it will actually run.',
    required: ['schedule', 'jobTemplate'],
    properties: {
      concurrencyPolicy: 'string',
      failedJobsHistoryLimit: 'int32',
      jobTemplate: ref(`${BATCH_BETA}JobTemplateSpec`),
      schedule: 'string',
      startingDeadlineSeconds: 'int64',
      successfulJobsHistoryLimit: 'int32',
      suspend: 'boolean',
      timeZone: 'string',
    },
  },
  [`${BATCH_BETA}JobTemplateSpec`]: {
    description: 'JobTemplateSpec describes the data a Job should have when created from a template',
    properties: { metadata: objectMeta, spec: ref(`${BATCH}JobSpec`) },
  },

  // ---- coordination.k8s.io/v1 ----
  [`${COORD}Lease`]: kind(['coordination.k8s.io', 'v1', 'Lease'], 'Lease defines a lease concept.', { spec: ref(`${COORD}LeaseSpec`) }),
  [`${COORD}LeaseSpec`]: {
    description: 'LeaseSpec is a specification of a Lease.',
    properties: {
      acquireTime: ref(MICRO_TIME),
      holderIdentity: 'string',
      leaseDurationSeconds: 'int32',
      leaseTransitions: 'int32',
      preferredHolder: 'string',
      renewTime: ref(MICRO_TIME),
      strategy: 'string',
    },
  },

  // ---- rbac.authorization.k8s.io/v1 ----
  [`${RBAC}Role`]: kind(['rbac.authorization.k8s.io', 'v1', 'Role'], 'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.', { rules: arr(ref(`${RBAC}PolicyRule`)) }),
  [`${RBAC}ClusterRole`]: kind(['rbac.authorization.k8s.io', 'v1', 'ClusterRole'], 'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.', {
    aggregationRule: ref(`${RBAC}AggregationRule`),
    rules: arr(ref(`${RBAC}PolicyRule`)),
  }),
  [`${RBAC}PolicyRule`]: {
    description: 'PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.',
    required: ['verbs'],
    properties: { apiGroups: strs, nonResourceURLs: strs, resourceNames: strs, resources: strs, verbs: strs },
  },
  [`${RBAC}AggregationRule`]: {
    description: 'AggregationRule describes how to locate ClusterRoles to aggregate into the ClusterRole',
    properties: { clusterRoleSelectors: arr(labelSelector) },
  },
  [`${RBAC}RoleBinding`]: kind(['rbac.authorization.k8s.io', 'v1', 'RoleBinding'], 'RoleBinding references a role, but does not contain it.', { roleRef: ref(`${RBAC}RoleRef`), subjects: arr(ref(`${RBAC}Subject`)) }, ['roleRef']),
  [`${RBAC}ClusterRoleBinding`]: kind(['rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding'], 'ClusterRoleBinding references a ClusterRole, but not contain it.', { roleRef: ref(`${RBAC}RoleRef`), subjects: arr(ref(`${RBAC}Subject`)) }, ['roleRef']),
  [`${RBAC}RoleRef`]: {
    description: 'RoleRef contains information that points to the role being used',
    required: ['apiGroup', 'kind', 'name'],
    properties: { apiGroup: 'string', kind: 'string', name: 'string' },
  },
  [`${RBAC}Subject`]: {
    description: 'Subject contains a reference to the object or user identities a role binding applies to.',
    required: ['kind', 'name'],
    properties: { apiGroup: 'string', kind: 'string', name: 'string', namespace: 'string' },
  },

  // ---- authentication.k8s.io/v1 ----
  [`${AUTHN}TokenRequest`]: kind(['authentication.k8s.io', 'v1', 'TokenRequest'], 'TokenRequest requests a token for a given service account.', {
    spec: ref(`${AUTHN}TokenRequestSpec`),
    status: ref(`${AUTHN}TokenRequestStatus`),
  }, ['spec']),
  [`${AUTHN}TokenRequestSpec`]: {
    description: 'TokenRequestSpec contains client provided parameters of a token request.',
    required: ['audiences'],
    properties: { audiences: strs, boundObjectRef: ref(`${AUTHN}BoundObjectReference`), expirationSeconds: 'int64' },
  },
  [`${AUTHN}BoundObjectReference`]: {
    description: 'BoundObjectReference is a reference to an object that a token is bound to.',
    properties: { apiVersion: 'string', kind: 'string', name: 'string', uid: 'string' },
  },
  [`${AUTHN}TokenRequestStatus`]: {
    description: 'TokenRequestStatus is the result of a token request.',
    required: ['token', 'expirationTimestamp'],
    properties: { expirationTimestamp: time, token: 'string' },
  },
  [`${AUTHN}TokenReview`]: kind(['authentication.k8s.io', 'v1', 'TokenReview'], 'TokenReview attempts to authenticate a token to a known user.', {
    spec: ref(`${AUTHN}TokenReviewSpec`),
    status: ref(`${AUTHN}TokenReviewStatus`),
  }, ['spec']),
  [`${AUTHN}TokenReviewSpec`]: {
    description: 'TokenReviewSpec is a description of the token authentication request.',
    properties: { audiences: strs, token: 'string' },
  },
  [`${AUTHN}TokenReviewStatus`]: {
    description: 'TokenReviewStatus is the result of the token authentication request.',
    properties: { audiences: strs, authenticated: 'boolean', error: 'string', user: ref(`${AUTHN}UserInfo`) },
  },
  [`${AUTHN}UserInfo`]: {
    description: 'UserInfo holds the information about the user needed to implement the user.Info interface.',
    properties: { extra: map(strs), groups: strs, uid: 'string', username: 'string' },
  },
  [`${AUTHN}SelfSubjectReview`]: kind(['authentication.k8s.io', 'v1', 'SelfSubjectReview'], 'SelfSubjectReview contains the user information that the kube-apiserver has about the user making this request.', {
    status: ref(`${AUTHN}SelfSubjectReviewStatus`),
  }),
  [`${AUTHN}SelfSubjectReviewStatus`]: {
    description: 'SelfSubjectReviewStatus is filled by the kube-apiserver and sent back to a user.',
    properties: { userInfo: ref(`${AUTHN}UserInfo`) },
  },

  // ---- authorization.k8s.io/v1 ----
  [`${AUTHZ}SelfSubjectAccessReview`]: kind(['authorization.k8s.io', 'v1', 'SelfSubjectAccessReview'], 'SelfSubjectAccessReview checks whether or the current user can perform an action.', {
    spec: ref(`${AUTHZ}SelfSubjectAccessReviewSpec`),
    status: ref(`${AUTHZ}SubjectAccessReviewStatus`),
  }, ['spec']),
  [`${AUTHZ}SelfSubjectAccessReviewSpec`]: {
    description: 'SelfSubjectAccessReviewSpec is a description of the access request.',
    properties: { nonResourceAttributes: ref(`${AUTHZ}NonResourceAttributes`), resourceAttributes: ref(`${AUTHZ}ResourceAttributes`) },
  },
  [`${AUTHZ}SubjectAccessReview`]: kind(['authorization.k8s.io', 'v1', 'SubjectAccessReview'], 'SubjectAccessReview checks whether or not a user or group can perform an action.', {
    spec: ref(`${AUTHZ}SubjectAccessReviewSpec`),
    status: ref(`${AUTHZ}SubjectAccessReviewStatus`),
  }, ['spec']),
  [`${AUTHZ}SubjectAccessReviewSpec`]: {
    description: 'SubjectAccessReviewSpec is a description of the access request.',
    properties: {
      extra: map(strs),
      groups: strs,
      nonResourceAttributes: ref(`${AUTHZ}NonResourceAttributes`),
      resourceAttributes: ref(`${AUTHZ}ResourceAttributes`),
      uid: 'string',
      user: 'string',
    },
  },
  [`${AUTHZ}ResourceAttributes`]: {
    description: 'ResourceAttributes includes the authorization attributes available for resource requests to the Authorizer interface',
    properties: { fieldSelector: 'object', group: 'string', labelSelector: 'object', name: 'string', namespace: 'string', resource: 'string', subresource: 'string', verb: 'string', version: 'string' },
  },
  [`${AUTHZ}NonResourceAttributes`]: {
    description: 'NonResourceAttributes includes the authorization attributes available for non-resource requests to the Authorizer interface',
    properties: { path: 'string', verb: 'string' },
  },
  [`${AUTHZ}SubjectAccessReviewStatus`]: {
    description: 'SubjectAccessReviewStatus',
    required: ['allowed'],
    properties: { allowed: 'boolean', denied: 'boolean', evaluationError: 'string', reason: 'string' },
  },

  [`${AUTHZ}LocalSubjectAccessReview`]: kind(['authorization.k8s.io', 'v1', 'LocalSubjectAccessReview'], 'LocalSubjectAccessReview checks whether or not a user or group can perform an action in a given namespace.', {
    spec: ref(`${AUTHZ}SubjectAccessReviewSpec`),
    status: ref(`${AUTHZ}SubjectAccessReviewStatus`),
  }, ['spec']),
  [`${AUTHZ}SelfSubjectRulesReview`]: kind(['authorization.k8s.io', 'v1', 'SelfSubjectRulesReview'], 'SelfSubjectRulesReview enumerates the set of actions the current user can perform within a namespace.', {
    spec: ref(`${AUTHZ}SelfSubjectRulesReviewSpec`),
    status: ref(`${AUTHZ}SubjectRulesReviewStatus`),
  }, ['spec']),
  [`${AUTHZ}SelfSubjectRulesReviewSpec`]: {
    description: 'SelfSubjectRulesReviewSpec defines the specification for SelfSubjectRulesReview.',
    properties: { namespace: 'string' },
  },
  [`${AUTHZ}SubjectRulesReviewStatus`]: {
    description: 'SubjectRulesReviewStatus contains the result of a rules check.',
    required: ['resourceRules', 'nonResourceRules', 'incomplete'],
    properties: { evaluationError: 'string', incomplete: 'boolean', nonResourceRules: arr('object'), resourceRules: arr('object') },
  },

  // ---- autoscaling/v1 ----
  [`${AUTOSCALING}Scale`]: kind(['autoscaling', 'v1', 'Scale'], 'Scale represents a scaling request for a resource.', {
    spec: ref(`${AUTOSCALING}ScaleSpec`),
    status: ref(`${AUTOSCALING}ScaleStatus`),
  }),
  [`${AUTOSCALING}ScaleSpec`]: {
    description: 'ScaleSpec describes the attributes of a scale subresource.',
    properties: { replicas: 'int32' },
  },
  [`${AUTOSCALING}ScaleStatus`]: {
    description: 'ScaleStatus represents the current status of a scale subresource.',
    required: ['replicas'],
    properties: { replicas: 'int32', selector: 'string' },
  },
};

/** The primitive definitions Kubernetes publishes as named types (refs to them, as the real document has). */
export const PRIMITIVE_DEFINITIONS: Readonly<Record<string, { type: string; format?: string; description: string }>> = {
  [QUANTITY]: { type: 'string', description: 'Quantity is a fixed-point representation of a number.' },
  [INT_OR_STRING]: { type: 'string', format: 'int-or-string', description: 'IntOrString is a type that can hold an int32 or a string.' },
  [TIME]: { type: 'string', format: 'date-time', description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.' },
  [MICRO_TIME]: { type: 'string', format: 'date-time', description: 'MicroTime is version of Time with microsecond level precision.' },
};
