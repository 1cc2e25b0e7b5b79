// NetworkPolicy enforcement: policies, pods and namespaces compiled into nftables, and the agent that writes them.
export { type Proto, type PortSpec, type Peer, type Rule, type Policy, type PodInfo, type PodPort, parsePolicy, parsePod, namespaceLabels, policyHash } from './model.js';
export { type Range, CidrError, cidrRanges, mergeRanges, rangeElement, ipToNum, numToIp, inRanges } from './cidr.js';
export { type ClusterView, type ResolvedPolicy, type ResolvedRule, resolvePolicy, peerPods, policyConcerns } from './resolve.js';
export { MAP, policyChain, policyPart, globalPart, selectionOf, type Selection, type Dir } from './layout.js';
export { FAMILY, TABLE, type ChainSpec, type SetSpec, type Part, emptyPart, renderFull, renderDiff, type DiffStats } from './ruleset.js';
export { PolicyState, type SyncPlan } from './state.js';
export { Agent, type AgentOptions, type AgentDeps, cleanupScript } from './agent.js';
export { NetpolServer } from './server.js';
export { policyEvent, COMPONENT, REASON } from './events.js';
export { addAgentOptions, agentFlags, type AgentFlags } from './options.js';
