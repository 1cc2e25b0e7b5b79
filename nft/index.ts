// Running nft for a daemon's table: `nft -f` for whole scripts, a long-lived `nft -i` for element changes,
// and element changes given as data written over NETLINK_NETFILTER.
export { NftError } from './errors.js';
export { execFileInput, contextLines, failingLine, type ExecResult } from './exec.js';
export { isElementOnly, joinScript, scriptLineAt, takeReply, failed, errorColumn, errorLines, type JoinedScript, type Reply } from './interactive.js';
export { NftSession, type NftSessionOptions } from './session.js';
export { NftRunner, prefixOf, type NftCliOptions, type ElementPort } from './cli.js';
export { encodeElementBatch, encodeKey, parseDecl, parseAcks, batchOutcome, describeErrors, errnoName, ElementEncodeError, type ElementChange, type ElementBatch, type Ack, type BatchOutcome, type SetType } from './elements.js';
export { NetlinkElementWriter, NetlinkLinkError, MAX_BATCH_BYTES, type NetlinkElementWriterOptions } from './netlink-writer.js';
export { frame, takeFrames } from './frames.js';
// The ruleset generation lives with the netlink layer (flanneld's iptables check reads it too).
export { NftGeneration, NftGenerationError, encodeGetGen, parseGenReplies, type GenReply } from '../netlink/index.js';
