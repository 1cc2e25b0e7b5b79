export { PROXY_MASQ_MARK, type ChainSpec, type TrafficParams, masqChain, forwardChain, parseIptablesSave, planRestore, type SavedRules } from './rules.js';
export { IptablesManager, IptablesError, systemIptables, type IptablesRunner } from './manager.js';
