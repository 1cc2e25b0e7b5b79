// The proxy's edge to the kernel: nft (see nft/: `nft -f` per transaction, element changes through a
// long-lived `nft -i`) and a listing of our table's chains.
import { NftRunner } from '../nft/index.js';
import { nftFamily, TABLE } from './ruleset.js';

export { execFileInput, contextLines, failingLine, type ExecResult } from '../nft/index.js';

export interface NftPort {
  /** Applies the script as one transaction; throws NftError with the failing line. */
  run(script: string): Promise<void>;
  /** The names of the chains in our table of that family, default ip (none when it does not exist). */
  listChains(family?: 4 | 6): Promise<string[]>;
}

export class NftCli extends NftRunner implements NftPort {
  async listChains(family: 4 | 6 = 4): Promise<string[]> {
    const r = await this.exec(['-j', 'list', 'chains', nftFamily(family)]);
    const j = JSON.parse(r.stdout || '{"nftables":[]}') as { nftables?: { chain?: { table: string; name: string } }[] };
    return (j.nftables ?? []).flatMap((o) => (o.chain && o.chain.table === TABLE ? [o.chain.name] : []));
  }
}
