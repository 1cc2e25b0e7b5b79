// Exec and attach on Docker, for the streaming server: an exec instance (POST /containers/<id>/exec) started
// on a hijacked connection (POST /exec/<id>/start with Upgrade: tcp), or the container's own attach; the
// client's stdin written to the connection (its end half-closes it: the process sees EOF), the output split
// into stdout and stderr (framed unless there is a TTY), terminal sizes sent as resizes, and for exec the
// exit code read from /exec/<id>/json once the output has ended.
import type { Duplex } from 'node:stream';
import type { ExecResult, ExecStreams, StreamOptions, TerminalSize } from '../../streaming/index.js';
import { errorMessage, type Logger } from '../../common/index.js';
import type { DockerClient } from '../docker.js';
import { FrameDemuxer } from './logs.js';

/** Copies the hijacked connection's output to the streams until it ends; stdin into it until stdin ends. */
function pump(socket: Duplex, head: Buffer, tty: boolean, streams: ExecStreams, wantStdin: boolean): Promise<void> {
  const demux = new FrameDemuxer();
  const write = (chunk: Buffer): void => {
    if (tty) {
      streams.stdout?.write(chunk);
      return;
    }
    for (const f of demux.push(chunk)) (f.stream === 2 ? streams.stderr : streams.stdout)?.write(f.data);
  };
  if (head.length) write(head);
  if (wantStdin && streams.stdin) {
    const stdin = streams.stdin;
    stdin.on('data', (c: Buffer) => {
      if (!socket.destroyed) socket.write(c);
    });
    stdin.once('end', () => {
      if (!socket.destroyed) socket.end();
    });
    stdin.once('error', () => socket.end());
  }
  return new Promise<void>((resolve) => {
    socket.on('data', write);
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}

function resizer(streams: ExecStreams, resize: (s: TerminalSize) => Promise<void>, log: Logger): () => void {
  const on = (s: TerminalSize): void => {
    resize(s).catch((e: unknown) => log.debug({ err: errorMessage(e) }, 'resize failed'));
  };
  streams.resize?.on('size', on);
  return () => streams.resize?.off('size', on);
}

/** A duration for the logs, to 0.1 ms. */
const ms = (d: number): number => Math.round(d * 10) / 10;

export async function dockerExec(docker: DockerClient, containerId: string, cmd: readonly string[], streams: ExecStreams, opts: StreamOptions, log: Logger): Promise<ExecResult> {
  if (cmd.length === 0) return { error: 'you must specify at least one command for the container' };
  const t0 = performance.now();
  const execId = await docker.execCreate(containerId, { cmd, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr, tty: opts.tty });
  const t1 = performance.now();
  const { socket, head } = await docker.hijack('exec start', `/exec/${encodeURIComponent(execId)}/start`, undefined, { Detach: false, Tty: opts.tty });
  const t2 = performance.now();
  const stop = resizer(streams, (s) => docker.execResize(execId, s.height, s.width), log);
  try {
    await pump(socket, head, opts.tty, streams, opts.stdin);
  } finally {
    stop();
    socket.destroy();
  }
  const t3 = performance.now();
  // The output can end a moment before Docker records the exit code.
  for (let i = 0; i < 50; i++) {
    const st = await docker.execInspect(execId);
    if (!st.running && st.exitCode !== undefined) {
      const t4 = performance.now();
      log.debug({ execId, createMs: ms(t1 - t0), startMs: ms(t2 - t1), outputMs: ms(t3 - t2), exitCodeMs: ms(t4 - t3), inspects: i + 1 }, 'docker exec timings');
      return { exitCode: st.exitCode };
    }
    await new Promise((r) => setTimeout(r, 20 * Math.min(i + 1, 10)));
  }
  return { error: `exec ${execId}: no exit code after its output ended` };
}

export async function dockerAttach(docker: DockerClient, containerId: string, tty: boolean, streams: ExecStreams, opts: StreamOptions, log: Logger): Promise<ExecResult> {
  const query = { stream: 1, stdin: opts.stdin ? 1 : 0, stdout: opts.stdout ? 1 : 0, stderr: opts.stderr ? 1 : 0 };
  const { socket, head } = await docker.hijack('attach', `/containers/${encodeURIComponent(containerId)}/attach`, query, undefined);
  const stop = resizer(streams, (s) => docker.containerResize(containerId, s.height, s.width), log);
  try {
    await pump(socket, head, tty, streams, opts.stdin);
  } finally {
    stop();
    socket.destroy();
  }
  return { exitCode: 0 };
}
