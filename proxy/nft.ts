// The proxy's edge to the kernel: nft (see nft/: `nft -f` per transaction, element changes through a
// long-lived `nft -i`) and a listing of our table's chains.
import { type NftCliOptions, NftRunner } from '../nft/index.js';
import { GenerationTracker, type ForeignChanges, type GenerationSource } from './changes.js';
import { nftFamily, TABLE } from './ruleset.js';

export { execFileInput, contextLines, failingLine, type ExecResult } from '../nft/index.js';

export interface NftPort {
  /** Applies the script as one transaction; throws NftError with the failing line. */
  run(script: string): Promise<void>;
  /** The names of the chains in our table of that family, default ip (none when it does not exist). */
  listChains(family?: 4 | 6): Promise<string[]>;
  /** With the namespace's ruleset generation: a proxier's view of changes made by other programs. */
  changes?(): ForeignChanges | undefined;
  /** Calls onChange after nf_tables changes in the namespace, seen by polling the generation (returns the stop). */
  watchChanges?(onChange: () => void): (() => void) | undefined;
}

export class NftCli extends NftRunner implements NftPort {
  private readonly tracker: GenerationTracker | undefined;

  /**
   * `generation`: the ruleset generation of the namespace nft writes in (only where that is this
   * process's own namespace: an `argv` that enters another one must not have it).
   */
  constructor(o: NftCliOptions & { readonly generation?: GenerationSource } = {}) {
    super(o);
    this.tracker = o.generation && new GenerationTracker(o.generation);
  }

  override run(script: string): Promise<void> {
    if (!script || !this.tracker) return super.run(script);
    return this.tracker.ownWrite(() => super.run(script));
  }

  changes(): ForeignChanges | undefined {
    return this.tracker?.subscribe();
  }

  watchChanges(onChange: () => void): (() => void) | undefined {
    return this.tracker?.watch(onChange);
  }

  async listChains(family: 4 | 6 = 4): Promise<string[]> {
    const r = await this.exec(['-j', 'list', 'chains', nftFamily(family)]);
    const j = JSON.parse(r.stdout || '{"nftables":[]}') as { nftables?: { chain?: { table: string; name: string } }[] };
    return (j.nftables ?? []).flatMap((o) => (o.chain && o.chain.table === TABLE ? [o.chain.name] : []));
  }
}
