// What an upgrade request asks for: the exec options from its query, whether it is a WebSocket or a
// SPDY upgrade, and which subprotocol both sides speak. Pure.
import type { IncomingHttpHeaders } from 'node:http';

export interface StreamOptions { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }

/** The exec/attach stream protocol versions, newest first; the SPDY and WebSocket sides share them. */
export const EXEC_V5 = 'v5.channel.k8s.io';
export const EXEC_V4 = 'v4.channel.k8s.io';
export const EXEC_V3 = 'v3.channel.k8s.io';
export const EXEC_V2 = 'v2.channel.k8s.io';
export const EXEC_V1 = 'channel.k8s.io';
export const SPDY_EXEC_PROTOCOLS = [EXEC_V5, EXEC_V4, EXEC_V3, EXEC_V2, EXEC_V1];

/** WebSocket subprotocols for exec: binary channel bytes, or base64 text with an ASCII channel digit. */
export const WS_EXEC_PROTOCOLS = [EXEC_V5, EXEC_V4, 'v4.base64.channel.k8s.io', EXEC_V1, 'base64.channel.k8s.io'];

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** kubectl 1.31+ tunnels SPDY port-forward through a WebSocket under this subprotocol prefix. */
export const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';
/** The kubelet's WebSocket port-forward (?port=…): per port a data and an error channel, as for exec. */
export const WS_PORT_FORWARD_PROTOCOLS = [EXEC_V4, 'v4.base64.channel.k8s.io'];

/** Go's strconv.ParseBool truths, which is how the apiserver reads these query parameters. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

/**
 * Reads the streams asked for from the query: kubectl's PodExecOptions names (stdin, stdout, stderr,
 * tty; 'true') or the ones kube-apiserver puts on the kubelet's URL (input, output, error, tty; '1').
 * A TTY merges stderr into stdout, so stderr is dropped with it, as the kubelet does. Throws when no
 * stream is asked for, with the kubelet's message.
 */
export function parseStreamOptions(url: URL): StreamOptions {
  const flag = (...names: string[]): boolean => names.some((n) => TRUE.has(url.searchParams.get(n) ?? ''));
  const tty = flag('tty');
  const opts = { stdin: flag('stdin', 'input'), stdout: flag('stdout', 'output'), stderr: flag('stderr', 'error') && !tty, tty };
  if (!opts.stdin && !opts.stdout && !opts.stderr) throw new Error('you must specify at least 1 of stdin, stdout, stderr');
  return opts;
}

/** All values of a header that may repeat, split on commas (Node joins repeats with ', '). */
export function headerList(headers: IncomingHttpHeaders, name: string): string[] {
  const raw = headers[name.toLowerCase()];
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}

export function isWebSocketRequest(headers: IncomingHttpHeaders): boolean {
  return (headers.upgrade ?? '').toLowerCase() === 'websocket' && /(^|,)\s*upgrade\s*(,|$)/i.test(headers.connection ?? '');
}

export function isSpdyUpgrade(headers: IncomingHttpHeaders): boolean {
  return (headers.connection ?? '').toLowerCase().includes('upgrade') && (headers.upgrade ?? '').toLowerCase().includes('spdy/3.1');
}

/** The first of the client's protocols (in its order of preference) that the server speaks. */
export function negotiate(client: string[], server: string[]): string | undefined {
  return client.find((p) => server.includes(p));
}

/** The SPDY protocols a client offers inside the tunnel: `SPDY/3.1+<p>` subprotocols ending in .k8s.io. */
export function tunneledProtocols(wsProtocols: string[]): string[] {
  return wsProtocols
    .filter((p) => p.startsWith(SPDY_TUNNEL_PREFIX) && p.endsWith('.k8s.io'))
    .map((p) => p.slice(SPDY_TUNNEL_PREFIX.length));
}
