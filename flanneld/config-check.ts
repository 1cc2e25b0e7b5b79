// `flanneld config check [FILE|-]`: what an operator runs before `etcdctl put`. Prints the effective
// config (flannel's field names, every default filled in) or one line naming what is wrong.
import { readFile } from 'node:fs/promises';
import type { BackendRegistry } from '../backend/index.js';
import { errorMessage } from '../common/index.js';
import { parseNetworkConfig } from '../ipam/index.js';

export interface CheckResult {
  readonly ok: boolean;
  readonly output: string;
}

export function checkConfigText(raw: string, backends: BackendRegistry): CheckResult {
  try {
    const effective = backends.effectiveConfig(parseNetworkConfig(raw));
    return { ok: true, output: JSON.stringify(effective, null, 2) + '\n' };
  } catch (e) {
    return { ok: false, output: `flanneld: ${errorMessage(e)}\n` };
  }
}

export async function readConfigSource(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(file, 'utf8');
}
