import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';

// Required on first use, not imported: node:crypto costs every flanneld start (any backend) a tenth of it.
let crypto: typeof Crypto | undefined;

/**
 * The VTEP MAC, derived from what identifies this node's tunnel endpoint (VNI and public IP), so it
 * is the same after a restart or a reboot: peers' neighbour and FDB entries stay valid (flannel's
 * random MAC after a reboot left peers sending to a MAC that no longer existed until they caught up).
 * Locally administered, unicast.
 */
export function stableVtepMac(vni: number, publicIP: string, family: 4 | 6 = 4): string {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  const h = crypto.createHash('sha256').update(`flannel-vtep:${family}:${vni}:${publicIP}`).digest();
  h[0] = (h[0]! & 0xfe) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
