/**
 * The pipe protocol between the echo prober and its send helper. Binary and small: a /16 sweep passes 65,536
 * orders through it.
 *
 * To the helper: INIT (once), then ORDER frames. From the helper: READY, HANDLED (orders done so far, sent or
 * failed), SEND_ERROR (a local errno for one order), FATAL (it cannot open its sockets).
 */
export const FRAME = {
  init: 1,
  order: 2,
  ready: 11,
  handled: 12,
  sendError: 13,
  fatal: 14,
} as const;

/** INIT: type, identifier (u16), token (8 bytes). */
export const INIT_BYTES = 11;
/** ORDER: type, family, sequence (u16), probe number (u32), address length, address (latin1). */
export const ORDER_HEADER_BYTES = 9;
/** Every frame from the helper: type, family, sequence (u16), probe number or count (u32), errno index (u8), pad. */
export const REPLY_BYTES = 12;

/** Errnos a send can end in, by index, so they fit one byte. */
export const SEND_ERRNOS = [
  'EUNKNOWN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EPERM',
  'EACCES',
  'EINVAL',
  'EADDRNOTAVAIL',
  'EMSGSIZE',
  'EAFNOSUPPORT',
] as const;

export function errnoIndex(errno: string): number {
  const index = (SEND_ERRNOS as readonly string[]).indexOf(errno);
  return index < 0 ? 0 : index;
}

/** Splits a byte stream into frames of a known length (or known from their header), keeping what is left over. */
export class FrameReader {
  private rest: Buffer = Buffer.alloc(0);

  constructor(private readonly frameLength: (buffer: Buffer, offset: number) => number | undefined) {}

  *frames(chunk: Buffer): Generator<{ buffer: Buffer; offset: number }> {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const length = this.frameLength(data, offset);
      if (length === undefined || offset + length > data.length) break;
      yield { buffer: data, offset };
      offset += length;
    }
    this.rest = data.subarray(offset);
  }
}

export function orderLength(buffer: Buffer, offset: number): number | undefined {
  if (buffer.length - offset < 1) return undefined;
  if (buffer[offset] === FRAME.init) return INIT_BYTES;
  if (buffer.length - offset < ORDER_HEADER_BYTES) return undefined;
  return ORDER_HEADER_BYTES + (buffer[offset + 8] as number);
}
