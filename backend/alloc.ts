// flannel's `alloc` backend: leases a subnet and writes subnet.env, and forwards nothing. For
// setups where something else (a cloud route table, a router) carries the traffic.
import type { BackendFactory, Network } from './types.js';

export const allocBackend: BackendFactory<Record<string, never>> = {
  type: 'alloc',
  parseConfig: () => ({}),
  renderConfig: () => ({ Type: 'alloc' }),
  async create({ ext }): Promise<Network> {
    return {
      mtu: ext.mtu,
      attrs: { ...(ext.publicIP && { publicIP: ext.publicIP }), ...(ext.publicIPv6 && { publicIPv6: ext.publicIPv6 }), backendType: 'alloc' },
      setLease: async () => undefined,
      reconcile: async () => undefined,
      close: async () => undefined,
    };
  },
};
