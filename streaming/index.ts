// The server side of kubectl's streaming protocols for exec, attach and port-forward: SPDY/3.1
// (v4.channel.k8s.io … channel.k8s.io, portforward.k8s.io), WebSocket channels (v5.channel.k8s.io …),
// and the SPDY-in-WebSocket tunnel of port-forward. Independent of the container runtime and the kubelet.
export { parseStreamOptions, type StreamOptions } from './negotiate.js';
export type { TerminalSize } from './channels.js';
export type { ExecResult } from './status.js';
export { serveExec, type ExecStreams, type ExecRunner, type ServeOptions } from './exec.js';
export { servePortForward, type PortDialer, type PortForwardOptions } from './portforward.js';
