// How kubectl printed a failed command on stderr (cmdutil.CheckErr), pure: a Status from the server as
// `Error from server (Reason): message`, a server that cannot be reached as kubectl words it, a flag or
// usage error with its pointer to the help, anything else as `error: message`. Always exit code 1.
import { ApiStatusError, ApiUnreachableError } from '../cluster/index.js';
import { errorMessage } from '../core/index.js';
import { FlagError, UsageError } from './args.js';

const COMMAND = 'kubectl rolling-update';

export function formatError(e: unknown, server: string | undefined): string {
  if (e instanceof FlagError) return `error: ${e.message}\nSee '${COMMAND} --help' for usage.`;
  if (e instanceof UsageError) {
    const each = e.problems.map((p) => `${p}\nSee '${COMMAND} -h' for help and examples`);
    return `error: ${each.length === 1 ? each[0] : `[${each.join(', ')}]`}`;
  }
  if (e instanceof ApiStatusError) return `Error from server${e.reason ? ` (${e.reason})` : ''}: ${e.statusMessage}`;
  if (e instanceof ApiUnreachableError) {
    const host = server ? server.replace(/^https?:\/\//, '') : 'the server';
    const cause = (e.cause as { code?: unknown } | undefined)?.code;
    if (cause === 'ECONNREFUSED') return `The connection to the server ${host} was refused - did you specify the right host or port?`;
    return `Unable to connect to the server: ${errorMessage(e.cause ?? e)}`;
  }
  return `error: ${errorMessage(e)}`;
}
