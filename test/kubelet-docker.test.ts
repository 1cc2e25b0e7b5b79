// The Docker client's transport against a local fake Docker daemon (node:http on a unix socket in a
// temp dir): an answer over the size limit is refused with an error naming the request, not cut short;
// exec tells a deadline (a probe timeout) from a daemon that hung up or cut its answer short.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerBodyTooLargeError, DockerClient, DockerNoAnswerError, DockerTimeoutError, MAX_BODY_BYTES } from '../kubelet/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const frame = (kind: number, s: string): Buffer => {
  const h = Buffer.alloc(8);
  h[0] = kind;
  h.writeUInt32BE(Buffer.byteLength(s), 4);
  return Buffer.concat([h, Buffer.from(s)]);
};

describe('Docker client transport (fake daemon on a unix socket)', () => {
  let dir: string;
  let server: Server;
  let docker: DockerClient;
  const routes = new Map<string, Handler>();
  const route = (method: string, p: string, h: Handler): void => void routes.set(`${method} ${p}`, h);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kubelet-docker-'));
    const socketPath = path.join(dir, 'docker.sock');
    server = createServer((req, res) => {
      const h = routes.get(`${req.method} ${(req.url ?? '').split('?')[0]}`);
      req.resume();
      if (h) h(req, res);
      else res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no route ${req.method} ${req.url}` }));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    docker = new DockerClient({ socketPath });
  });

  afterAll(async () => {
    docker.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const listOfSize = (n: number): Buffer => {
    const b = Buffer.alloc(n, 0x20);
    b[0] = 0x5b; // [
    b[n - 1] = 0x5d; // ]
    return b;
  };

  it('reads an answer of exactly the limit', async () => {
    route('GET', '/v1.41/containers/json', (_q, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(listOfSize(MAX_BODY_BYTES)));
    expect(await docker.listContainers('io.kubernetes.pod.uid')).toEqual([]);
  });

  it('refuses an answer one byte over the limit, naming the request', async () => {
    route('GET', '/v1.41/containers/json', (_q, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // chunked, in pieces, as a daemon streams a long list
      const body = listOfSize(MAX_BODY_BYTES + 1);
      for (let i = 0; i < body.length; i += 1 << 20) res.write(body.subarray(i, i + (1 << 20)));
      res.end();
    });
    const err = await docker.listContainers('io.kubernetes.pod.uid').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DockerBodyTooLargeError);
    expect(err).toMatchObject({ code: 'DOCKER_BODY_TOO_LARGE', op: 'list containers', request: 'GET /containers/json', status: 200, limitBytes: MAX_BODY_BYTES, transient: false });
    expect((err as Error).message).toBe(`docker list containers: HTTP 200: GET /containers/json: the answer is larger than ${MAX_BODY_BYTES} bytes; not read`);
  });

  describe('exec', () => {
    beforeAll(() => {
      route('POST', '/v1.41/containers/c1/exec', (_q, res) => res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"e1"}'));
      route('GET', '/v1.41/exec/e1/json', (_q, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ExitCode":3}'));
    });

    it('returns the output and the exit code', async () => {
      route('POST', '/v1.41/exec/e1/start', (_q, res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
        res.end(Buffer.concat([frame(1, 'out '), frame(2, 'err')]));
      });
      expect(await docker.exec('c1', ['true'], 2000)).toEqual({ exitCode: 3, output: 'out err', timedOut: false });
    });

    it('a daemon that does not answer within the deadline is a timeout', async () => {
      route('POST', '/v1.41/exec/e1/start', () => undefined); // never answers
      const t0 = Date.now();
      expect(await docker.exec('c1', ['sleep', '9'], 200)).toEqual({ exitCode: -1, output: '', timedOut: true });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    });

    it('a daemon that hangs up without answering is an error, not a timeout', async () => {
      route('POST', '/v1.41/exec/e1/start', (req) => req.socket.destroy());
      const err = await docker.exec('c1', ['true'], 5000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DockerNoAnswerError);
      expect(err).not.toBeInstanceOf(DockerTimeoutError);
      expect(err).toMatchObject({ code: 'DOCKER_NO_ANSWER', op: 'exec start', request: 'POST /exec/e1/start', status: undefined, transient: true });
      expect((err as Error).message).toMatch(/^docker exec start: no answer: POST \/exec\/e1\/start: /);
    });

    it('an answer cut short is an error, not a timeout nor a short output', async () => {
      route('POST', '/v1.41/exec/e1/start', (req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream', 'Content-Length': '100' });
        res.write(frame(1, 'par'));
        setTimeout(() => req.socket.destroy(), 20);
      });
      const err = await docker.exec('c1', ['true'], 5000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DockerNoAnswerError);
      expect(err).toMatchObject({ op: 'exec start', request: 'POST /exec/e1/start' });
    });
  });
});
