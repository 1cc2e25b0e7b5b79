// The ServiceLB controller: LoadBalancer services answered on the nodes' own addresses.
export * from './logic.js';
export { ServiceLbController } from './controller.js';
