// The endpoints controller: Endpoints for every Service with a selector, from its pods (logic.ts, pure).
export {
  TRIGGER_TIME_ANNOTATION,
  HEADLESS_LABEL,
  selectorOf,
  selectorMatches,
  podReady,
  podEligible,
  resolveTargetPort,
  repackSubsets,
  endpointSubsets,
  podIpsFor,
  serviceFamilies,
  desiredEndpoints,
  endpointsChanged,
  podTriggerTime,
  TriggerTimeTracker,
  type PodRef,
} from './logic.js';
export { EndpointsController, type EndpointsControllerOptions } from './controller.js';
