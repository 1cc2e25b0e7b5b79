// The kubelet's HTTPS server (10250): authentication, authorization, logs, exec, attach, port-forward.
export { KubeletServer, type KubeletServerOptions } from './server.js';
export { KubeletAuth, ANONYMOUS, accessReviewBody, forbiddenText, tokenReviewUser, type AuthOptions, type User, type ReviewClient } from './auth.js';
export { nodeAttributes, routeOf, runCommand, execCommand, type NodeAttributes, type Route, type PodRef } from './paths.js';
export { parseLogQuery, dockerLogsQuery, FrameDemuxer, ByteBudget, LogQueryError, type LogOptions, type Frame } from './logs.js';
export { findPod, logContainer, runningContainer, LookupError, type PodSource } from './containers.js';
export { ensureSelfSigned, kubeletSans } from './certs.js';
export { dialInNetns, DialError } from './port-forward.js';
export { dockerExec, dockerAttach } from './exec.js';
export { startKubeletServer, type KubeletServerFlags } from './start.js';
