// The WebSocket channel protocol (channel.k8s.io and its versions): each message is one chunk of one
// stream, its first byte the channel; base64.channel.k8s.io sends text, an ASCII digit and base64.
// And the resize stream's JSON terminal sizes. Pure.

export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4 } as const;
/** v5's CLOSE signal: a message on channel 255 whose one byte names the channel the sender is done with. */
export const CLOSE_CHANNEL = 255;

export function encodeChannelMessage(channel: number, data: Buffer, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(48 + channel) + data.toString('base64');
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = channel;
  data.copy(out, 1);
  return out;
}

export type ChannelMessage = { channel: number; data: Buffer } | { close: number } | { invalid: string };

export function decodeChannelMessage(message: Buffer, base64: boolean, closeSignal: boolean): ChannelMessage | undefined {
  if (message.length === 0) return undefined;
  if (base64) {
    const channel = message[0]! - 48;
    const text = message.subarray(1).toString('latin1');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return { invalid: `channel ${channel}: data is not base64` };
    return { channel, data: Buffer.from(text, 'base64') };
  }
  const channel = message[0]!;
  if (closeSignal && channel === CLOSE_CHANNEL) {
    if (message.length < 2) return { invalid: 'CLOSE signal without a channel' };
    return { close: message[1]! };
  }
  return { channel, data: message.subarray(1) };
}

export interface TerminalSize { width: number; height: number }

/**
 * The resize stream carries {"Width":w,"Height":h} objects back to back (Go's json.Encoder, one per
 * line); a chunk may end inside one. Sizes that do not parse are skipped.
 */
export class ResizeDecoder {
  private pending = '';

  push(chunk: Buffer | string): TerminalSize[] {
    this.pending += chunk.toString();
    const sizes: TerminalSize[] = [];
    for (let end = this.pending.indexOf('}'); end !== -1; end = this.pending.indexOf('}')) {
      const text = this.pending.slice(0, end + 1);
      this.pending = this.pending.slice(end + 1);
      const size = parseSize(text);
      if (size) sizes.push(size);
    }
    // A peer sending text with no object end in it gets no unbounded buffer.
    if (this.pending.length > 4096) this.pending = '';
    return sizes;
  }
}

function parseSize(text: string): TerminalSize | undefined {
  try {
    const v = JSON.parse(text.trim()) as { Width?: unknown; Height?: unknown };
    const width = v.Width;
    const height = v.Height;
    if (typeof width !== 'number' || typeof height !== 'number') return undefined;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || width > 0xffff || height > 0xffff) return undefined;
    return { width, height };
  } catch {
    return undefined;
  }
}
