// Secret values never leave the server in an error or a log line. Field errors about a Secret's data say
// `<secret contents redacted>` instead of the value (as Kubernetes' validation does); parse errors keep
// their position and drop the quoted input; and, as a last guard, an error answered to a write of a Secret
// has every data/stringData value of the request and of the stored object struck out of its message.
import { isObject } from '../core/index.js';
import { ApiError } from './errors.js';

export const REDACTED = '<secret contents redacted>';

/** Values shorter than this are not struck out of messages (they would match ordinary words). */
const MIN_SCRUBBED = 3;

/** Node's JSON.parse message without the input it quotes (`Unexpected token 'x', "{...}" is not valid JSON`). */
export function jsonErrorText(message: string): string {
  return message.replace(/, [\s\S]* is not valid JSON$/, ' is not valid JSON');
}

/** The yaml parser's message without the source lines it prints under it. */
export function yamlErrorText(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/:\s*$/, '');
}

/** The string values of a Secret (or Secret patch) body's data and stringData, and their decodings. */
export function secretValues(body: unknown, into: Set<string> = new Set()): Set<string> {
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= MIN_SCRUBBED) into.add(v);
      // A base64 value's plain text is as secret as the value.
      const plain = Buffer.from(v, 'base64').toString('utf8');
      if (plain.length >= MIN_SCRUBBED && /^[\x20-\x7e\s]*$/.test(plain) && Buffer.from(plain, 'utf8').toString('base64').replace(/=+$/, '') === v.replace(/=+$/, '')) into.add(plain);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (isObject(v)) Object.values(v).forEach(visit);
  };
  const fields = (o: unknown): void => {
    if (Array.isArray(o)) {
      // A JSON patch: its operations' values.
      for (const op of o) if (isObject(op)) visit(op.value);
      return;
    }
    if (!isObject(o)) return;
    visit(o.data);
    visit(o.stringData);
  };
  fields(body);
  return into;
}

/** The text with every value struck out (longest first, so a value inside another goes with it). */
export function scrub(text: string, values: ReadonlySet<string>): string {
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) if (out.includes(v)) out = out.split(v).join(REDACTED);
  // JSON-quoted forms (a value with quotes or backslashes appears escaped in messages).
  for (const v of values) {
    const q = JSON.stringify(v).slice(1, -1);
    if (q !== v && out.includes(q)) out = out.split(q).join(REDACTED);
  }
  return out;
}

/** The error with the values struck out of its message (the same error when none is in it). */
export function scrubError(e: ApiError, values: ReadonlySet<string>): ApiError {
  if (values.size === 0) return e;
  const message = scrub(e.message, values);
  const details = e.details ? (JSON.parse(scrub(JSON.stringify(e.details), values)) as ApiError['details']) : undefined;
  if (message === e.message && JSON.stringify(details) === JSON.stringify(e.details)) return e;
  return new ApiError(e.httpStatus, e.reason, message, details);
}
