// The plugin's command line, pure: kubectl hands a plugin every argument after its name and parses none
// of them, so the global flags a kubectl user types (`--kubeconfig`, `--context`, `-n`, `--server`, …)
// are read here too, with pflag's grammar (`--flag=value`, `--flag value`, `-n value`, `-nvalue`,
// booleans only as `--flag` or `--flag=<bool>`, flags and arguments interspersed, `--` ends the flags).
// The seeds type Go's one-dash long form (`-image=takama/webapp:0.2`): a one-dash word that names a long
// flag is read as that flag. Defaults are kubectl 1.17's.
import { FlannelError, parseDuration } from '../core/index.js';

export interface RollingUpdateArgs {
  readonly oldName: string;
  /** The second name, when given (the new controller's; the update then ends with two names, no rename). */
  readonly newName?: string;
  readonly image?: string;
  readonly filename?: string;
  readonly container?: string;
  readonly imagePullPolicy?: string;
  readonly deploymentKey: string;
  readonly rollback: boolean;
  readonly updatePeriodMs: number;
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly conn: ConnectionFlags;
  /** kubectl's `-v` level (0 when not given): 4 and above log the requests on stderr. */
  readonly verbosity: number;
}

/** The kubectl global flags that say where the API is and who we are. */
export interface ConnectionFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
  readonly server?: string;
  readonly token?: string;
  readonly certificateAuthority?: string;
  readonly clientCertificate?: string;
  readonly clientKey?: string;
  readonly insecureSkipTlsVerify?: boolean;
}

export type ParsedArgs = { readonly help: true } | { readonly help: false; readonly args: RollingUpdateArgs };

/** A flag kubectl's pflag would refuse: printed with `See 'kubectl rolling-update --help' for usage.` */
export class FlagError extends FlannelError {
  readonly code = 'FLAG';
}

/** A usage error of the command (kubectl's UsageErrorf): printed with `See 'kubectl rolling-update -h' for help and examples`. */
export class UsageError extends FlannelError {
  readonly code = 'USAGE';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export const DEFAULTS = { updatePeriodMs: 60_000, pollIntervalMs: 3_000, timeoutMs: 300_000, deploymentKey: 'deployment' } as const;

type Kind = 'string' | 'bool' | 'duration' | 'int';
interface Spec {
  readonly kind: Kind;
  readonly short?: string;
}

const FLAGS: Readonly<Record<string, Spec>> = {
  image: { kind: 'string' },
  filename: { kind: 'string', short: 'f' },
  container: { kind: 'string' },
  'image-pull-policy': { kind: 'string' },
  'deployment-label-key': { kind: 'string' },
  rollback: { kind: 'bool' },
  'update-period': { kind: 'duration' },
  'poll-interval': { kind: 'duration' },
  timeout: { kind: 'duration' },
  kubeconfig: { kind: 'string' },
  context: { kind: 'string' },
  namespace: { kind: 'string', short: 'n' },
  server: { kind: 'string', short: 's' },
  token: { kind: 'string' },
  'certificate-authority': { kind: 'string' },
  'client-certificate': { kind: 'string' },
  'client-key': { kind: 'string' },
  'insecure-skip-tls-verify': { kind: 'bool' },
  // kubectl's discovery cache: accepted so a habitual `--cache-dir` is no error; the plugin keeps no cache.
  'cache-dir': { kind: 'string' },
  v: { kind: 'int', short: 'v' },
  help: { kind: 'bool', short: 'h' },
};
const BY_SHORT = new Map(Object.entries(FLAGS).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));

const GO_BOOL: Readonly<Record<string, boolean>> = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false };

type Value = string | boolean | number;

function convert(name: string, spec: Spec, raw: string, shown: string): Value {
  const bad = (why: string) => new FlagError(`invalid argument ${JSON.stringify(raw)} for "${shown}" flag: ${why}`);
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'bool': {
      const b = GO_BOOL[raw];
      if (b === undefined) throw bad(`strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
      return b;
    }
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) throw bad(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
      return Number(raw);
    case 'duration':
      try {
        return parseDuration(raw);
      } catch (e) {
        throw bad(e instanceof Error ? e.message : String(e));
      }
    default:
      throw new FlagError(`flag ${name} has no kind`);
  }
}

/** Pure: the plugin's arguments → what to do; throws FlagError (bad flag) or UsageError (a bad combination). */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values = new Map<string, Value>();
  const positional: string[] = [];
  const set = (name: string, raw: string, shown: string) => values.set(name, convert(name, FLAGS[name]!, raw, shown));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const twoDash = arg.startsWith('--');
    const body = arg.slice(twoDash ? 2 : 1);
    const eq = body.indexOf('=');
    const word = (eq < 0 ? body : body.slice(0, eq)).replace(/_/g, '-');
    // Go's one-dash long flags (the seeds' `-image=`), when the word is a long flag's name.
    const long = twoDash || (word.length > 1 && FLAGS[word] !== undefined) ? word : undefined;
    let name: string;
    let shown: string;
    let inline: string | undefined;
    if (long !== undefined) {
      if (long === '' || body.startsWith('-') || body.startsWith('=')) throw new FlagError(`bad flag syntax: ${arg}`);
      if (!FLAGS[long]) throw new FlagError(`unknown flag: --${long}`);
      name = long;
      shown = `--${long}`;
      inline = eq < 0 ? undefined : body.slice(eq + 1);
    } else {
      const c = body[0]!;
      const n = BY_SHORT.get(c);
      if (!n) throw new FlagError(`unknown shorthand flag: '${c}' in ${arg}`);
      name = n;
      shown = `-${c}`;
      const rest = body.slice(1);
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
      if (FLAGS[n]!.kind === 'bool' && inline !== undefined && !rest.startsWith('=')) throw new FlagError(`unknown shorthand flag: '${rest[0]}' in ${arg}`);
    }
    const spec = FLAGS[name]!;
    if (inline !== undefined) set(name, inline, shown);
    else if (spec.kind === 'bool') values.set(name, true);
    else {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: ${shown.startsWith('--') ? shown : `'${shown.slice(1)}' in ${shown}`}`);
      set(name, argv[++i]!, shown);
    }
  }
  if (values.get('help') === true) return { help: true };

  const str = (k: string): string | undefined => {
    const v = values.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const image = str('image') || undefined;
  const filename = str('filename') || undefined;
  const deploymentKey = str('deployment-label-key') ?? DEFAULTS.deploymentKey;
  const rollback = values.get('rollback') === true;
  // kubectl's validateArguments: every problem at once.
  const problems: string[] = [];
  if (deploymentKey === '') problems.push('--deployment-label-key can not be empty');
  if (!rollback) {
    if (!filename && !image) problems.push('Must specify --filename or --image for new controller');
    else if (filename && image) problems.push('--filename and --image can not both be specified');
  } else if (filename || image) {
    problems.push("Don't specify --filename or --image on rollback");
  }
  if (positional.length < 1) problems.push('Must specify the controller to update');
  if (problems.length) throw new UsageError(problems);
  if (positional.length > 2) throw new UsageError([`unexpected arguments: ${positional.slice(2).join(' ')}`]);

  const dur = (k: string, d: number): number => {
    const v = values.get(k);
    return typeof v === 'number' ? v : d;
  };
  const conn: ConnectionFlags = {
    ...(str('kubeconfig') && { kubeconfig: str('kubeconfig')! }),
    ...(str('context') && { context: str('context')! }),
    ...(str('namespace') && { namespace: str('namespace')! }),
    ...(str('server') && { server: str('server')! }),
    ...(str('token') && { token: str('token')! }),
    ...(str('certificate-authority') && { certificateAuthority: str('certificate-authority')! }),
    ...(str('client-certificate') && { clientCertificate: str('client-certificate')! }),
    ...(str('client-key') && { clientKey: str('client-key')! }),
    ...(values.has('insecure-skip-tls-verify') && { insecureSkipTlsVerify: values.get('insecure-skip-tls-verify') === true }),
  };
  const args: RollingUpdateArgs = {
    oldName: positional[0]!,
    ...(positional[1] !== undefined && { newName: positional[1] }),
    ...(image && { image }),
    ...(filename && { filename }),
    ...(str('container') && { container: str('container')! }),
    ...(str('image-pull-policy') && { imagePullPolicy: str('image-pull-policy')! }),
    deploymentKey,
    rollback,
    updatePeriodMs: dur('update-period', DEFAULTS.updatePeriodMs),
    pollIntervalMs: dur('poll-interval', DEFAULTS.pollIntervalMs),
    timeoutMs: dur('timeout', DEFAULTS.timeoutMs),
    conn,
    verbosity: typeof values.get('v') === 'number' ? (values.get('v') as number) : 0,
  };
  return { help: false, args };
}

export const HELP = `Perform a rolling update of the given ReplicationController.

Replaces the specified replication controller with a new replication controller by updating one pod at a
time to use the new PodTemplate. The new-controller.json must specify the same namespace as the existing
replication controller and overwrite at least one (common) label in its replicaSelector.

Examples:
  # Update pods of frontend-v1 using new replication controller data in frontend-v2.json.
  kubectl rolling-update frontend-v1 -f frontend-v2.json

  # Update the pods of frontend-v1 to frontend-v2 by just changing the image, and switching the
  # name of the replication controller.
  kubectl rolling-update frontend-v1 frontend-v2 --image=image:v2

  # Update the pods of frontend by just changing the image, and keeping the old name.
  kubectl rolling-update frontend --image=image:v2

  # Abort and reverse an existing rollout in progress (from frontend-v1 to frontend-v2).
  kubectl rolling-update frontend-v1 frontend-v2 --rollback

Options:
      --container='': Container name which will have its image upgraded. Required when using --image on a multi-container pod
      --deployment-label-key='deployment': The key to use to differentiate between two different controllers
  -f, --filename='': Filename of a ReplicationController manifest (YAML or JSON; - for stdin) to create as the new controller
      --image='': Image to use for upgrading the replication controller. Must be distinct from the existing image (either new image or new image tag)
      --image-pull-policy='': Explicit policy for when to pull container images. Required when --image is same as existing image
      --poll-interval=3s: Time delay between polling for replication controller status after the update
      --rollback=false: If true, this is a request to abort an existing rollout that is partially rolled out
      --timeout=5m0s: Max time to wait for a replication controller to update before giving up
      --update-period=1m0s: Time to wait between updating pods

Connection (as kubectl's global flags, given after the command's name):
      --kubeconfig, --context, -n/--namespace, -s/--server, --token, --certificate-authority,
      --client-certificate, --client-key, --insecure-skip-tls-verify; KUBECONFIG as kubectl reads it

Usage:
  kubectl rolling-update OLD_CONTROLLER_NAME ([NEW_CONTROLLER_NAME] --image=NEW_CONTAINER_IMAGE | -f NEW_CONTROLLER_SPEC) [options]
`;
