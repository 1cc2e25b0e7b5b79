import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { FlagSyntaxError, flagTableOf, normalizePflagArgs, parseGoBool, parseGoFlags } from '../common/index.js';
import { flanneldArgs, glogLevel } from '../flanneld/go-flags.js';
import { addDaemonOptions, daemonOptions } from '../flanneld/options.js';
import { addKubeletOptions } from '../kubelet/options.js';
import { addProxyOptions } from '../proxy/options.js';

/** A flanneld command line, as flanneld's main reads it, to the parsed options. */
function flanneld(...argv: string[]): { opts: ReturnType<typeof daemonOptions>; ignored: string[]; sub?: string[] } {
  let sub: string[] | undefined;
  const program = addDaemonOptions(new Command('flanneld')).exitOverride().version('0.1.0', '--version');
  program.command('config').command('check').argument('[file]').action((f: string | undefined) => { sub = ['config', 'check', ...(f ? [f] : [])]; });
  program.command('docker-opts').option('-d, --dest <path>').option('-k, --key <name>').action((o: { dest?: string }) => { sub = ['docker-opts', o.dest ?? '']; });
  program.action(() => undefined);
  const { args, ignored } = flanneldArgs(program, argv);
  program.parse(args, { from: 'user' });
  return { opts: daemonOptions(program.opts()), ignored, ...(sub && { sub }) };
}

describe("Go's flag grammar (flanneld)", () => {
  it('takes one dash or two, -flag=value or -flag value', () => {
    const { opts } = flanneld('-iface=enp0s8', '--etcd-endpoints', 'http://10.0.0.1:4001', '-etcd-prefix', '/coreos.com/network', '--subnet-file=/tmp/s.env');
    expect(opts).toMatchObject({ iface: ['enp0s8'], etcdEndpoints: ['http://10.0.0.1:4001'], etcdPrefix: '/coreos.com/network', subnetFile: '/tmp/s.env' });
  });
  it('takes a value that starts with a dash, as Go does', () => {
    expect(flanneld('-iface-regex', '-x').opts.ifaceRegex).toEqual(['-x']);
  });
  it('reads booleans as -flag, -flag=true or -flag=false, in strconv.ParseBool spellings', () => {
    expect(flanneld('-ip-masq').opts.ipMasq).toBe(true);
    expect(flanneld('-ip-masq=T').opts.ipMasq).toBe(true);
    expect(flanneld('--ip-masq=false').opts.ipMasq).toBe(false);
    expect(flanneld('-iptables-forward-rules=0').opts.iptablesForwardRules).toBe(false);
    expect(() => flanneld('-ip-masq=yes')).toThrow(/invalid boolean value "yes" for -ip-masq/);
  });
  it('sets a boolean given as "-ip-masq false" and ends the flags there, as Go does', () => {
    const r = flanneld('-ip-masq', 'false', '-iface=eth0');
    expect(r.opts.ipMasq).toBe(true);
    expect(r.opts.iface).toEqual([]);
    expect(r.ignored).toEqual(['false', '-iface=eth0']);
  });
  it('repeats -iface', () => {
    expect(flanneld('-iface=eth1', '-iface', 'eth0').opts.iface).toEqual(['eth1', 'eth0']);
  });
  it('stops at --', () => {
    expect(flanneld('-iface=eth0', '--', '-ip-masq').ignored).toEqual(['-ip-masq']);
  });
  it('accepts the glog flags of old unit files, -v as the log level', () => {
    expect(flanneld('-logtostderr', '-alsologtostderr=true', '-v=2', '-log_dir=/var/log').opts.logLevel).toBe('debug');
    expect(flanneld('-v', '0').opts.logLevel).toBe('info');
    expect(flanneld('--v=5').opts.logLevel).toBe('trace');
    expect(glogLevel('1')).toBe('debug');
    expect(() => glogLevel('x')).toThrow(FlagSyntaxError);
  });
  it('refuses unknown and malformed flags, naming them', () => {
    expect(() => flanneld('-ifcae=eth0')).toThrow('flag provided but not defined: -ifcae');
    expect(() => flanneld('---iface=eth0')).toThrow('bad flag syntax: ---iface=eth0');
    expect(() => flanneld('-=x')).toThrow('bad flag syntax: -=x');
    expect(() => flanneld('-iface')).toThrow('flag needs an argument: -iface');
  });
  it('hands our subcommands their arguments, single-dash long flags included', () => {
    expect(flanneld('-etcd-prefix=/x', 'config', 'check', 'net.json').sub).toEqual(['config', 'check', 'net.json']);
    expect(flanneld('docker-opts', '-d', '/run/d').sub).toEqual(['docker-opts', '/run/d']);
    const r = flanneld('config', 'check', '-etcd-endpoints=http://127.0.0.1:1');
    expect(r.opts.etcdEndpoints).toEqual(['http://127.0.0.1:1']);
  });
  it('maps -h and -version', () => {
    const t = flagTableOf(addDaemonOptions(new Command('f')).version('1', '--version'));
    expect(parseGoFlags(['-version'], t).flags).toEqual(['--version']);
    expect(parseGoFlags(['-h'], t).flags).toEqual(['--help']);
  });
  it('knows strconv.ParseBool', () => {
    expect(['1', 't', 'T', 'TRUE', 'true', 'True'].map(parseGoBool)).toEqual(Array(6).fill(true));
    expect(['0', 'f', 'F', 'FALSE', 'false', 'False'].map(parseGoBool)).toEqual(Array(6).fill(false));
    expect(parseGoBool('yes')).toBeUndefined();
  });
});

describe("pflag's grammar with Kubernetes' word separators (kubelet, kube-proxy)", () => {
  const kubelet = (...argv: string[]) => {
    const p = addKubeletOptions(new Command('kubelet')).exitOverride().action(() => undefined);
    p.parse(normalizePflagArgs(argv, flagTableOf(p)), { from: 'user' });
    return p.opts();
  };
  it("reads the seeds' underscores as dashes", () => {
    expect(kubelet('--hostname_override=node2.example.com', '--etcd_endpoints', 'http://m:4001')).toMatchObject({ hostnameOverride: 'node2.example.com', etcdEndpoints: 'http://m:4001' });
  });
  it('leaves values and positional arguments alone', () => {
    expect(normalizePflagArgs(['--a_b=c_d', 'x_y', '--', '--e_f'], new Map([['a-b', { kind: 'value' }]]))).toEqual(['--a-b=c_d', 'x_y', '--', '--e_f']);
  });
  it('reads a boolean alone as true, so the next argument stays an argument', () => {
    const p = addProxyOptions(new Command('kube-proxy'));
    const t = flagTableOf(p);
    expect(normalizePflagArgs(['--cleanup', 'x'], t)).toEqual(['--cleanup', 'x']);
    expect(normalizePflagArgs(['--cleanup=false'], t)).toEqual([]);
    expect(normalizePflagArgs(['--cleanup=true'], t)).toEqual(['--cleanup']);
    expect(() => normalizePflagArgs(['--cleanup=maybe'], t)).toThrow(/invalid boolean value "maybe" for --cleanup/);
  });
  it('names a value flag without its value', () => {
    expect(() => normalizePflagArgs(['--hostname_override'], flagTableOf(addKubeletOptions(new Command('k'))))).toThrow('flag needs an argument: --hostname-override');
  });
  it('leaves unknown flags for commander to refuse, normalised', () => {
    const p = addKubeletOptions(new Command('kubelet')).exitOverride().configureOutput({ writeErr: () => undefined }).action(() => undefined);
    expect(() => p.parse(normalizePflagArgs(['--no_such_flag=1'], flagTableOf(p)), { from: 'user' })).toThrow(/unknown option '--no-such-flag=1'/);
  });
});
