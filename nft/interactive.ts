// What is said to and read from a long-lived `nft -i`, pure. nft reads one line at a time and runs each
// line as one transaction (all of it or none), so a script is sent as one line, its statements joined
// by `;`. After it goes a marker line that is not a command: nft answers it with a syntax error that
// echoes the marker, and since both go to stderr in order, whatever nft wrote before the marker's error
// is this transaction's (nothing on success). The echo of a failing line comes with a caret line under
// the offending statement, which names the script line again.

/** Only element additions and deletions: the small, frequent changes worth a long-lived process. */
export function isElementOnly(script: string): boolean {
  let any = false;
  for (const l of script.split('\n')) {
    if (!l) continue;
    if (!/^(?:add|delete) element /.test(l)) return false;
    any = true;
  }
  return any;
}

export interface JoinedScript {
  readonly line: string;
  /** Where each statement begins in `line`, and its 1-based line number in the script. */
  readonly starts: readonly number[];
  readonly lineNos: readonly number[];
}

const SEP = '; ';

/** The script's non-empty lines as one line; a line with a newline or `#` in it cannot be joined. */
export function joinScript(script: string): JoinedScript {
  const starts: number[] = [];
  const lineNos: number[] = [];
  const parts: string[] = [];
  let at = 0;
  script.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    // A comment would swallow the statements joined after it.
    if (l.includes('#')) throw new RangeError(`line ${i + 1} has a comment; it cannot be sent to nft -i`);
    starts.push(at);
    lineNos.push(i + 1);
    parts.push(l);
    at += l.length + SEP.length;
  });
  return { line: parts.join(SEP), starts, lineNos };
}

/** The script line that column `col` of the joined line falls in. */
export function scriptLineAt(j: JoinedScript, col: number): number | undefined {
  let n: number | undefined;
  for (let i = 0; i < j.starts.length && j.starts[i]! <= col; i++) n = j.lineNos[i];
  return n;
}

export interface Reply {
  /** What nft wrote for the transaction (empty on success). */
  readonly output: string;
  /** What follows the marker's own error (the next transaction's). */
  readonly rest: string;
}

/** Splits stderr read so far at the marker's error; undefined until the whole of it (its caret line too) is in. */
export function takeReply(buf: string, marker: string): Reply | undefined {
  const at = buf.indexOf(`\n${marker}\n`);
  if (at < 0) return undefined;
  const end = buf.indexOf('\n', at + marker.length + 2);
  if (end < 0) return undefined;
  const errStart = buf.lastIndexOf('\n', at - 1) + 1;
  return { output: buf.slice(0, errStart), rest: buf.slice(end + 1) };
}

/** Whether the transaction failed: nft reports every failure as `Error: …`. */
export const failed = (output: string): boolean => /(?:^|\n)(?:[^\n]*: )?Error: /.test(output);

/** The column of the first statement nft underlines (`   ^^^^` or `~~~^^^`). */
export function errorColumn(output: string): number | undefined {
  for (const l of output.split('\n')) {
    const m = /^( *)[~^]+ *$/.exec(l);
    if (m) return m[1]!.length;
  }
  return undefined;
}

/** The `Error: …` lines of a reply, without the echoed script (which may be long). */
export const errorLines = (output: string): string =>
  output
    .split('\n')
    .filter((l) => /Error: /.test(l))
    .join('\n');
