import { FlannelError } from '../common/index.js';

/** An nft transaction failed; `line` is the failing line of the script and `context` a few lines around it. */
export class NftError extends FlannelError {
  readonly code = 'NFT';
  override readonly transient = true;
  constructor(
    readonly line: number | undefined,
    readonly context: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(line === undefined ? `nft failed: ${firstLine(stderr)}` : `nft failed at line ${line}: ${firstLine(stderr)}`, options);
  }
}

const firstLine = (s: string): string => s.trim().split('\n').find((l) => /Error/.test(l))?.trim() ?? s.trim().split('\n')[0] ?? '';
