// flannel's `alloc` backend: leases a subnet and writes subnet.env, and forwards nothing. For
// setups where something else (a cloud route table, a router) carries the traffic.
import { publishedIPs } from './family.js';
import type { BackendFactory, Network } from './types.js';

export const allocBackend: BackendFactory<Record<string, never>> = {
  type: 'alloc',
  parseConfig: () => ({}),
  renderConfig: () => ({ Type: 'alloc' }),
  async create({ ext }): Promise<Network> {
    return {
      mtu: ext.mtu,
      attrs: { ...publishedIPs(ext), backendType: 'alloc' },
      setLease: async () => undefined,
      reconcile: async () => undefined,
      close: async () => undefined,
    };
  },
};
