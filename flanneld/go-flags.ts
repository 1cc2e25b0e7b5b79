// flanneld's command line as flannel's (Go's flag package) reads it, plus the glog flags that old unit
// files and /etc/sysconfig/flanneld pass (`-logtostderr`, `-v=2`), rewritten for commander.
import type { Command } from 'commander';
import { FlagSyntaxError, type FlagSpec, flagTableOf, parseGoFlags } from '../common/index.js';

/** glog's -v verbosity → our log level: flannel logs its detail at V(1)–V(2) and its chatter above. */
export function glogLevel(v: string): string {
  if (!/^\d+$/.test(v)) throw new FlagSyntaxError('-v', `invalid value "${v}" for flag -v: expected a whole number`);
  const n = Number(v);
  return n === 0 ? 'info' : n <= 2 ? 'debug' : 'trace';
}

const ignored = (): readonly string[] => [];

/** The glog flags: accepted, and only -v has an effect (we always log to stderr). */
const GLOG_FLAGS: ReadonlyArray<[string, FlagSpec]> = [
  ['v', { kind: 'value', rewrite: (v) => [`--log-level=${glogLevel(v)}`] }],
  ['logtostderr', { kind: 'bool', rewrite: ignored }],
  ['alsologtostderr', { kind: 'bool', rewrite: ignored }],
  ['log_dir', { kind: 'value', rewrite: ignored }],
  ['log_file', { kind: 'value', rewrite: ignored }],
  ['stderrthreshold', { kind: 'value', rewrite: ignored }],
  ['vmodule', { kind: 'value', rewrite: ignored }],
  ['log_backtrace_at', { kind: 'value', rewrite: ignored }],
];

export interface FlanneldArgs {
  /** The arguments for commander (after the program name). */
  readonly args: string[];
  /** Arguments after the flags that flannel would ignore (`-ip-masq false` leaves `false`). */
  readonly ignored: string[];
}

/**
 * Reads `args` (after the program name) as flannel does. What follows the flags is a subcommand of ours
 * (`config check`, `docker-opts`), whose own arguments go to commander with single-dash long flags
 * accepted, or else words flannel ignores.
 */
export function flanneldArgs(program: Command, args: readonly string[]): FlanneldArgs {
  const table = flagTableOf(program);
  for (const [name, spec] of GLOG_FLAGS) table.set(name, spec);
  const { flags, rest } = parseGoFlags(args, table);
  const sub = rest.length > 0 ? program.commands.find((c) => c.name() === rest[0] || c.aliases().includes(rest[0]!)) : undefined;
  if (!sub) return { args: flags, ignored: rest };
  const longNames = new Set([...table.keys(), ...subcommandLongNames(sub)]);
  const tail = rest.map((a) => {
    const m = /^-([^-=][^=]+)(=.*)?$/.exec(a);
    return m && longNames.has(m[1]!) ? `-${a}` : a;
  });
  return { args: [...flags, ...tail], ignored: [] };
}

function subcommandLongNames(cmd: Command): string[] {
  const names = cmd.options.flatMap((o) => (o.long ? [o.long.slice(2)] : []));
  return [...names, ...cmd.commands.flatMap(subcommandLongNames)];
}
