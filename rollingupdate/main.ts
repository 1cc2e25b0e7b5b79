#!/usr/bin/env node
// kubectl-rolling_update: the kubectl plugin that brings back `kubectl rolling-update` (dropped from
// kubectl in 1.18). kubectl runs it with every argument after `rolling-update`. Wiring only: arguments,
// the connection, the API client, the command; errors as kubectl printed them, exit code 1.
import { ApiClient } from '../cluster/index.js';
import { createLogger } from '../common/index.js';
import { HELP, parseArgs } from './args.js';
import { RcApi } from './api.js';
import { resolveConnection } from './conn.js';
import { formatError } from './errors.js';
import { runRollingUpdate } from './run.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  let server: string | undefined;
  let client: ApiClient | undefined;
  try {
    const parsed = parseArgs(process.argv.slice(2));
    if (parsed.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const a = parsed.args;
    // kubectl's -v: 6 and up show the requests, as kubectl's do.
    const log = createLogger({ level: a.verbosity >= 6 ? 'debug' : a.verbosity >= 1 ? 'info' : 'warn', name: 'kubectl-rolling_update' });
    const r = await resolveConnection(a.conn, process.env);
    server = r.server;
    client = new ApiClient(r.conn, { log });
    log.info({ server: r.server, namespace: r.namespace }, 'connecting');
    await runRollingUpdate(a, { api: new RcApi(client, r.namespace), out: (line) => process.stdout.write(`${line}\n`), log, stdin: readStdin });
    return 0;
  } catch (e) {
    process.stderr.write(`${formatError(e, server)}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

void main().then((code) => {
  process.exitCode = code;
});
