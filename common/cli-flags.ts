// Command lines as the Go programs we stand in for parse them, rewritten into the one spelling commander
// understands (`--name=value`), so every daemon keeps a single commander declaration of its flags.
//   - flanneld is built on Go's `flag` package: one dash or two, `-flag=value` or `-flag value`, booleans
//     only as `-flag` or `-flag=<bool>`, and parsing stops at the first argument that is not a flag.
//   - The Kubernetes daemons use spf13/pflag with Kubernetes' word-separator normalisation: `--flag=value`
//     or `--flag value`, `_` the same as `-` in long names, one dash for shorthands, flags and arguments
//     interspersed.
// Written here rather than taken from a library: no npm package parses either grammar exactly, and the
// rewrite is small once the flag kinds come from commander's own option table.
import type { Command } from 'commander';
import { FlannelError } from '../core/index.js';

/** How a flag takes its value. `value`: always one; `bool`: `-f` is true, `-f=<bool>` sets it; `switch`: commander's plain boolean, `--no-f` to unset. */
export type FlagKind = 'value' | 'bool' | 'switch';

export interface FlagSpec {
  readonly kind: FlagKind;
  /** Canonical argv for a value (already checked for bool kinds); default `--<name>=<value>`. */
  readonly rewrite?: (value: string) => readonly string[];
}

export type FlagTable = ReadonlyMap<string, FlagSpec>;

export class FlagSyntaxError extends FlannelError {
  readonly code = 'FLAG_SYNTAX';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}

/** The flag table of a commander command: its long options by name, without the dashes. */
export function flagTableOf(cmd: Command): Map<string, FlagSpec> {
  const table = new Map<string, FlagSpec>();
  for (const o of cmd.options) {
    if (!o.long) continue;
    const name = o.long.replace(/^--/, '');
    const kind: FlagKind = o.required ? 'value' : o.optional ? 'bool' : 'switch';
    table.set(name, { kind });
  }
  // commander answers these itself; they are flags all the same for the grammar.
  if (!table.has('help')) table.set('help', { kind: 'switch' });
  return table;
}

// strconv.ParseBool's spellings.
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseGoBool(v: string): boolean | undefined {
  return GO_TRUE.has(v) ? true : GO_FALSE.has(v) ? false : undefined;
}

function canonical(name: string, spec: FlagSpec, value: string, table: FlagTable, shown: string): string[] {
  if (spec.kind === 'value') return [...(spec.rewrite?.(value) ?? [`--${name}=${value}`])];
  const b = parseGoBool(value);
  if (b === undefined) throw new FlagSyntaxError(shown, `invalid boolean value "${value}" for ${shown}: expected true or false`);
  if (spec.rewrite) return [...spec.rewrite(String(b))];
  if (spec.kind === 'bool') return [`--${name}=${b}`];
  if (b) return [`--${name}`];
  if (table.has(`no-${name}`)) return [`--no-${name}`];
  return []; // a plain switch set to false is its default
}

export interface GoFlagResult {
  /** Flags in commander's spelling. */
  readonly flags: string[];
  /** What follows the flags: Go stops at the first non-flag argument, or after `--`. */
  readonly rest: string[];
}

/**
 * Parses `args` (the arguments after the program name) as Go's flag.FlagSet.Parse does: `-name`,
 * `--name`, `-name=value`, `-name value` for non-booleans (the next argument is the value even when it
 * starts with a dash); a boolean takes a value only after `=`, so `-ip-masq false` sets ip-masq and ends
 * the flags at `false`. Unknown or malformed flags throw FlagSyntaxError naming the flag.
 */
export function parseGoFlags(args: readonly string[], table: FlagTable): GoFlagResult {
  const flags: string[] = [];
  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg.length < 2 || arg[0] !== '-') break;
    i++;
    if (arg === '--') break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagSyntaxError(arg, `bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const shown = `-${name}`;
    const spec = table.get(name) ?? (name === 'h' ? table.get('help') : undefined);
    if (!spec) throw new FlagSyntaxError(shown, `flag provided but not defined: ${shown}`);
    const canonName = name === 'h' ? 'help' : name;
    if (eq >= 0) {
      flags.push(...canonical(canonName, spec, body.slice(eq + 1), table, shown));
    } else if (spec.kind !== 'value') {
      flags.push(...canonical(canonName, spec, 'true', table, shown));
    } else {
      if (i >= args.length) throw new FlagSyntaxError(shown, `flag needs an argument: ${shown}`);
      flags.push(...canonical(canonName, spec, args[i++]!, table, shown));
    }
  }
  return { flags, rest: args.slice(i) };
}

/**
 * Rewrites `args` as Kubernetes' pflag parsing reads them: long names normalised (`_` → `-`),
 * `--name value` for value flags, `--name` alone for booleans (so the next argument stays an argument),
 * `--name=<bool>`. Shorthands (one dash) and positional arguments pass through, interspersed as in
 * pflag; everything after `--` is left as it is. Unknown long flags are left for commander to refuse.
 */
export function normalizePflagArgs(args: readonly string[], table: FlagTable): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith('--') || arg.length === 2) {
      out.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = (eq < 0 ? body : body.slice(0, eq)).replace(/_/g, '-');
    const spec = table.get(name);
    if (!spec) {
      out.push(eq < 0 ? `--${name}` : `--${name}=${body.slice(eq + 1)}`);
      continue;
    }
    const shown = `--${name}`;
    if (eq >= 0) out.push(...canonical(name, spec, body.slice(eq + 1), table, shown));
    else if (spec.kind !== 'value') out.push(...canonical(name, spec, 'true', table, shown));
    else {
      if (i + 1 >= args.length) throw new FlagSyntaxError(shown, `flag needs an argument: ${shown}`);
      out.push(...canonical(name, spec, args[++i]!, table, shown));
    }
  }
  return out;
}
