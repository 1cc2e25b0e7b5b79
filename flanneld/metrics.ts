// Prometheus metrics, served on the healthz listener at /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class FlannelMetrics {
  readonly registry = new Registry();
  readonly leaseExpiration = new Gauge({ name: 'flannel_lease_expiration_timestamp_seconds', help: 'When our subnet lease expires (0: a reservation, never)', registers: [this.registry] });
  readonly peers = new Gauge({ name: 'flannel_peers', help: 'Peer leases known', registers: [this.registry] });
  readonly kernelObjects = new Gauge({ name: 'flannel_kernel_objects', help: 'Kernel objects programmed for peers', labelNames: ['kind'], registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'flannel_reconcile_duration_seconds',
    help: 'Time to converge the kernel to the leases',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({ name: 'flannel_reconcile_errors_total', help: 'Reconciles that failed', registers: [this.registry] });
  readonly watchRestarts = new Counter({ name: 'flannel_etcd_watch_restarts_total', help: 'Lease watches restarted after a loss or a failure', registers: [this.registry] });
  readonly iptablesRestores = new Counter({ name: 'flannel_iptables_restores_total', help: 'iptables rule sets written (1 at start, more after drift)', registers: [this.registry] });

  constructor() {
    // The event-loop lag histogram samples on a timer: at prom-client's 10 ms it woke an idle daemon
    // 100 times a second (about 90 ms of CPU per 20 s); once a second is enough for a lag metric.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });
  }
}
