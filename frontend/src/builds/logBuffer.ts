/**
 * A step's log as the run page holds it: text placed by BYTE offsets (the server counts the
 * stored log in UTF-8 bytes; `buildrun.log` events say where their text starts), bounded in
 * memory.
 *
 * - A chunk that starts at the end we hold is appended.
 * - A chunk we already hold (a duplicate, or an event that raced the initial read) is ignored, and
 *   one that overlaps the end is trimmed to the bytes we lack.
 * - A chunk that starts after the end we hold means bytes were missed (an event lost while the
 *   socket reconnected, a batch the server coalesced): nothing is appended and the caller reads
 *   `/log/?offset=<end>` to fill the gap; the events that arrive meanwhile are applied after it.
 * - Past `maxChars`, the oldest whole lines are dropped (`dropped` says so; the download button
 *   reads the full stored log from the server instead).
 * - Offsets count bytes of the log the server KEEPS, and the server cuts a log that outgrows its
 *   limit (the newest bytes kept): after a cut, offsets start lower again. A chunk that overlaps
 *   what we hold with different bytes, or a read answered from below the offset we asked (the
 *   server clamps it to the kept size), says so: `reset`, and the caller reads the kept log from 0
 *   into a fresh buffer.
 */

export interface LogBuffer {
  /** The text held, from `start` (byte offset in the stored log) to `end`. */
  text: string;
  start: number;
  end: number;
  /** Older lines were dropped to keep the buffer under its bound. */
  dropped: boolean;
  /** Something has been read (an empty log read counts). */
  loaded: boolean;
}

export const EMPTY_LOG: LogBuffer = { text: '', start: 0, end: 0, dropped: false, loaded: false };

/** Characters kept in memory per step (the server keeps up to 1 MiB per step). */
export const MAX_LOG_CHARS = 512 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const byteLength = (text: string) => encoder.encode(text).length;

export type ApplyResult = { buffer: LogBuffer; gap: boolean; reset?: boolean };

/** Whether `bytes`, placed at `offset`, agree with the bytes the buffer holds where they overlap. */
function agrees(buffer: LogBuffer, offset: number, bytes: Uint8Array): boolean {
  if (offset < buffer.start) return true; // we dropped those bytes ourselves: nothing to compare
  const held = encoder.encode(buffer.text);
  const from = offset - buffer.start;
  const to = Math.min(buffer.end, offset + bytes.length) - buffer.start;
  for (let i = from; i < to; i += 1) if (held[i] !== bytes[i - from]) return false;
  return true;
}

/** Cut to at most `max` characters, at a line start, marking `dropped`. */
export function bound(buffer: LogBuffer, max = MAX_LOG_CHARS): LogBuffer {
  if (buffer.text.length <= max) return buffer;
  let cut = buffer.text.length - max;
  if (buffer.text[cut - 1] !== '\n') {
    // inside a line: drop the rest of it too (unless it is the last line, which is kept cut)
    const newline = buffer.text.indexOf('\n', cut);
    if (newline >= 0 && newline < buffer.text.length - 1) cut = newline + 1;
  }
  const removed = buffer.text.slice(0, cut);
  return { ...buffer, text: buffer.text.slice(cut), start: buffer.start + byteLength(removed), dropped: true };
}

/** Place `text`, which starts at byte `offset` of the stored log, after what the buffer holds. */
export function applyChunk(buffer: LogBuffer, offset: number, text: string, max = MAX_LOG_CHARS): ApplyResult {
  if (offset > buffer.end) return { buffer, gap: true };
  const bytes = encoder.encode(text);
  const endOfChunk = offset + bytes.length;
  if (offset < buffer.end && bytes.length > 0 && !agrees(buffer, offset, bytes)) return { buffer, gap: false, reset: true };
  if (endOfChunk <= buffer.end) return { buffer: buffer.loaded ? buffer : { ...buffer, loaded: true }, gap: false };
  const fresh = offset === buffer.end ? text : decoder.decode(bytes.slice(buffer.end - offset));
  return { buffer: bound({ ...buffer, text: buffer.text + fresh, end: endOfChunk, loaded: true }, max), gap: false };
}

/**
 * A read of `/log/?offset=` (answer: `offset`, `text`): applied like a chunk, except that an
 * answer starting after what we asked for (the server no longer keeps the older bytes: a capped
 * log) is taken as it is, so a missing range is not asked for again and again.
 */
export function applyRead(buffer: LogBuffer, read: { offset: number; text: string }, max = MAX_LOG_CHARS): LogBuffer {
  const result = applyChunk(buffer, read.offset, read.text, max);
  if (!result.gap) return { ...result.buffer, loaded: true };
  const empty = buffer.text === '';
  return bound(
    {
      text: buffer.text + read.text,
      start: empty ? read.offset : buffer.start,
      end: read.offset + byteLength(read.text),
      dropped: buffer.dropped || !empty || read.offset > 0,
      loaded: true,
    },
    max,
  );
}

/** The buffer's lines (no trailing empty line for a final newline). */
export function linesOf(buffer: LogBuffer): string[] {
  if (!buffer.text) return [];
  const lines = buffer.text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
