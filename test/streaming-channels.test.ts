// The WebSocket channel framing (binary and base64, v5's CLOSE signal), the resize stream's JSON,
// the exec options from the query, protocol negotiation and the error stream's Status.
import { describe, expect, it } from 'vitest';
import { ResizeDecoder, decodeChannelMessage, encodeChannelMessage } from '../streaming/channels.js';
import { headerList, negotiate, parseStreamOptions, tunneledProtocols, SPDY_EXEC_PROTOCOLS } from '../streaming/negotiate.js';
import { errorStreamPayload, execResultStatus } from '../streaming/status.js';
import { checkPortForwardStream } from '../streaming/portforward.js';
import { parsePortQuery } from '../streaming/portforward-ws.js';

describe('WebSocket channel messages', () => {
  it('puts the channel in the first byte of a binary message', () => {
    const m = encodeChannelMessage(1, Buffer.from('hi'), false);
    expect(Buffer.isBuffer(m) && m.toString('hex')).toBe('016869');
    expect(decodeChannelMessage(Buffer.from([0, 0x61]), false, true)).toEqual({ channel: 0, data: Buffer.from('a') });
  });

  it('sends an ASCII digit and base64 under base64.channel.k8s.io', () => {
    expect(encodeChannelMessage(2, Buffer.from('foo\n'), true)).toBe('2Zm9vCg==');
    expect(decodeChannelMessage(Buffer.from('0Zm9vCg=='), true, false)).toEqual({ channel: 0, data: Buffer.from('foo\n') });
    expect(decodeChannelMessage(Buffer.from('0!!'), true, false)).toEqual({ invalid: 'channel 0: data is not base64' });
  });

  it("reads v5's CLOSE signal (channel 255, then the closed channel) only under v5", () => {
    expect(decodeChannelMessage(Buffer.from([255, 0]), false, true)).toEqual({ close: 0 });
    expect(decodeChannelMessage(Buffer.from([255, 0]), false, false)).toEqual({ channel: 255, data: Buffer.from([0]) });
    expect(decodeChannelMessage(Buffer.from([255]), false, true)).toEqual({ invalid: 'CLOSE signal without a channel' });
    expect(decodeChannelMessage(Buffer.alloc(0), false, true)).toBeUndefined();
  });
});

describe('resize stream', () => {
  it('decodes back-to-back sizes, one split across chunks, skipping junk', () => {
    const d = new ResizeDecoder();
    expect(d.push('{"Width":80,"Height":24}\n{"Width":1')).toEqual([{ width: 80, height: 24 }]);
    expect(d.push('00,"Height":30}\n{"Width":"x","Height":1}\n')).toEqual([{ width: 100, height: 30 }]);
  });
});

describe('stream options and negotiation', () => {
  const url = (q: string): URL => new URL(`http://x/exec?${q}`);

  it("accepts '1' and 'true', and drops stderr with a TTY", () => {
    expect(parseStreamOptions(url('stdin=1&stdout=1&stderr=1'))).toEqual({ stdin: true, stdout: true, stderr: true, tty: false });
    expect(parseStreamOptions(url('stdout=true&stderr=true&tty=true'))).toEqual({ stdin: false, stdout: true, stderr: false, tty: true });
    expect(() => parseStreamOptions(url('tty=1&stdout=0'))).toThrow('you must specify at least 1 of stdin, stdout, stderr');
    // The kubelet's own names, as kube-apiserver writes them on the proxied URL.
    expect(parseStreamOptions(url('input=1&output=1&error=1'))).toEqual({ stdin: true, stdout: true, stderr: true, tty: false });
  });

  it("picks the client's first protocol the server speaks, across repeated headers", () => {
    const client = headerList({ 'x-stream-protocol-version': 'v4.channel.k8s.io, v3.channel.k8s.io,v2.channel.k8s.io' }, 'X-Stream-Protocol-Version');
    expect(client).toEqual(['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io']);
    expect(negotiate(client, SPDY_EXEC_PROTOCOLS)).toBe('v4.channel.k8s.io');
    expect(negotiate(['v9.channel.k8s.io'], SPDY_EXEC_PROTOCOLS)).toBeUndefined();
    expect(tunneledProtocols(['SPDY/3.1+portforward.k8s.io', 'other'])).toEqual(['portforward.k8s.io']);
  });

  it('checks port-forward stream headers and ?port= as the kubelet does', () => {
    expect(checkPortForwardStream('8080', 'data')).toBe(8080);
    expect(checkPortForwardStream(undefined, 'data')).toBe('"port" header is required');
    expect(checkPortForwardStream('0', 'data')).toBe('port "0" must be > 0');
    expect(checkPortForwardStream('70000', 'data')).toBe('unable to parse "70000" as a port: invalid syntax');
    expect(checkPortForwardStream('80', 'stdin')).toBe('invalid stream type "stdin"');
    expect(parsePortQuery(new URL('http://x/pf?port=80,443&port=8080'))).toEqual([80, 443, 8080]);
    expect(parsePortQuery(new URL('http://x/pf'))).toBe('query parameter "port" is required');
  });
});

describe('exec result on the error stream', () => {
  it('is a Success Status for exit 0', () => {
    expect(errorStreamPayload({ exitCode: 0 }, true).toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(errorStreamPayload({ exitCode: 0 }, false).toString()).toBe('');
  });

  it('carries a non-zero exit code as the ExitCode cause of NonZeroExitCode', () => {
    const s = execResultStatus({ exitCode: 3 });
    expect(s.status).toBe('Failure');
    expect(s.reason).toBe('NonZeroExitCode');
    expect(s.details).toEqual({ causes: [{ reason: 'ExitCode', message: '3' }] });
    expect(errorStreamPayload({ exitCode: 3 }, false).toString()).toBe('command terminated with non-zero exit code: exit status 3');
  });

  it('reports a failure to run as an InternalError', () => {
    const s = execResultStatus({ error: 'container not found' });
    expect(s).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500, message: 'Internal error occurred: container not found' });
  });
});
