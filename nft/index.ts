// Running nft for a daemon's table: `nft -f` for whole scripts, a long-lived `nft -i` for element changes.
export { NftError } from './errors.js';
export { execFileInput, contextLines, failingLine, type ExecResult } from './exec.js';
export { isElementOnly, joinScript, scriptLineAt, takeReply, failed, errorColumn, errorLines, type JoinedScript, type Reply } from './interactive.js';
export { NftSession, type NftSessionOptions } from './session.js';
export { NftRunner, type NftCliOptions } from './cli.js';
export { NftGeneration, NftGenerationError, encodeGetGen, parseGenReplies, type GenReply } from './generation.js';
