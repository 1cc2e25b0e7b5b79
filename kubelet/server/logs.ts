// /containerLogs: the query (PodLogOptions as the kubelet reads and validates it), the Docker logs query it
// becomes, and the decoding of Docker's output: a container without a TTY has its stdout and stderr framed
// (an 8-byte header: the stream, 3 zero bytes, the big-endian payload length), split here as it arrives.
// Pure.
import { queryBoolean } from './query.js';

export interface LogOptions {
  readonly follow: boolean;
  readonly previous: boolean;
  readonly timestamps: boolean;
  readonly tailLines?: number;
  /** Epoch milliseconds: lines from then on (sinceSeconds or sinceTime). */
  readonly sinceMs?: number;
  readonly limitBytes?: number;
}

export class LogQueryError extends Error {}

function int(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new LogQueryError(`${key}: Invalid value: ${JSON.stringify(v)}: must be an integer`);
  return Number(v);
}

/** The query of /containerLogs; a LogQueryError names what is wrong (ValidatePodLogOptions' messages). */
export function parseLogQuery(q: URLSearchParams, nowMs: number): LogOptions {
  const tailLines = int(q, 'tailLines');
  const sinceSeconds = int(q, 'sinceSeconds');
  const limitBytes = int(q, 'limitBytes');
  const sinceTime = q.get('sinceTime') || undefined;
  const problems: string[] = [];
  if (tailLines !== undefined && tailLines < 0) problems.push(`tailLines: Invalid value: ${tailLines}: must be greater than or equal to 0`);
  if (limitBytes !== undefined && limitBytes < 1) problems.push(`limitBytes: Invalid value: ${limitBytes}: must be greater than 0`);
  if (sinceSeconds !== undefined && sinceSeconds < 1) problems.push(`sinceSeconds: Invalid value: ${sinceSeconds}: must be greater than 0`);
  if (sinceSeconds !== undefined && sinceTime !== undefined) problems.push('sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
  let sinceMs: number | undefined;
  if (sinceTime !== undefined) {
    sinceMs = Date.parse(sinceTime);
    if (!/^\d{4}-\d\d-\d\dT/.test(sinceTime) || Number.isNaN(sinceMs)) problems.push(`sinceTime: Invalid value: ${JSON.stringify(sinceTime)}: must be an RFC 3339 time`);
  } else if (sinceSeconds !== undefined) sinceMs = nowMs - sinceSeconds * 1000;
  if (problems.length) throw new LogQueryError(problems.join(', '));
  return {
    follow: queryBoolean(q, 'follow'),
    previous: queryBoolean(q, 'previous'),
    timestamps: queryBoolean(q, 'timestamps'),
    ...(tailLines !== undefined && { tailLines }),
    ...(sinceMs !== undefined && !Number.isNaN(sinceMs) && { sinceMs }),
    ...(limitBytes !== undefined && { limitBytes }),
  };
}

/** The Docker API's GET /containers/<id>/logs query for these options. */
export function dockerLogsQuery(o: LogOptions): Record<string, string | number> {
  return {
    stdout: 1,
    stderr: 1,
    follow: o.follow ? 1 : 0,
    timestamps: o.timestamps ? 1 : 0,
    tail: o.tailLines === undefined ? 'all' : o.tailLines,
    ...(o.sinceMs !== undefined && { since: (Math.max(0, o.sinceMs) / 1000).toFixed(3) }),
  };
}

export interface Frame {
  /** 0 stdin, 1 stdout, 2 stderr (Docker's numbers). */
  readonly stream: number;
  readonly data: Buffer;
}

/**
 * Splits Docker's framed stream as chunks arrive: a frame may span chunks, a chunk may hold many. A frame's
 * payload is handed out as it comes (a long line is not held back until its frame is whole).
 */
export class FrameDemuxer {
  private header = Buffer.alloc(0);
  private stream = 1;
  private remaining = 0;

  push(chunk: Buffer): Frame[] {
    const out: Frame[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        out.push({ stream: this.stream, data: chunk.subarray(i, i + n) });
        this.remaining -= n;
        i += n;
        continue;
      }
      const need = 8 - this.header.length;
      const take = chunk.subarray(i, i + need);
      this.header = this.header.length ? Buffer.concat([this.header, take]) : Buffer.from(take);
      i += take.length;
      if (this.header.length < 8) break;
      this.stream = this.header[0]!;
      this.remaining = this.header.readUInt32BE(4);
      this.header = Buffer.alloc(0);
    }
    return out;
  }
}

/** At most `limit` bytes in all (limitBytes): the part of `chunk` still within it; `done` once the limit is reached. */
export class ByteBudget {
  private used = 0;
  constructor(private readonly limit: number | undefined) {}

  take(chunk: Buffer): { data: Buffer; done: boolean } {
    if (this.limit === undefined) return { data: chunk, done: false };
    const left = this.limit - this.used;
    const data = chunk.length <= left ? chunk : chunk.subarray(0, Math.max(0, left));
    this.used += data.length;
    return { data, done: this.used >= this.limit };
  }
}
