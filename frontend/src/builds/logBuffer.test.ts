import { describe, expect, it } from 'vitest';
import { EMPTY_LOG, applyChunk, applyRead, byteLength, linesOf } from './logBuffer';

describe('step log buffer', () => {
  it('appends chunks at the end, ignores what it holds, trims overlaps by bytes', () => {
    let b = applyRead(EMPTY_LOG, { offset: 0, text: 'one\n' });
    expect(b).toMatchObject({ text: 'one\n', start: 0, end: 4, loaded: true });
    let r = applyChunk(b, 4, 'two\n');
    expect(r.gap).toBe(false);
    b = r.buffer;
    expect(b.end).toBe(8);
    // a duplicate (an event that raced the read) changes nothing
    r = applyChunk(b, 4, 'two\n');
    expect(r).toEqual({ buffer: b, gap: false });
    // an overlap keeps only the bytes we lack, counted in UTF-8 (한 = 3 bytes)
    r = applyChunk(b, 4, 'two\n한글\n');
    expect(r.buffer.text).toBe('one\ntwo\n한글\n');
    expect(r.buffer.end).toBe(8 + byteLength('한글\n'));
    expect(r.buffer.end).toBe(15);
    r = applyChunk(r.buffer, 11, '글\nthree\n');
    expect(linesOf(r.buffer)).toEqual(['one', 'two', '한글', 'three']);
  });

  it('reports a gap without appending', () => {
    const b = applyRead(EMPTY_LOG, { offset: 0, text: 'one\n' });
    const r = applyChunk(b, 10, 'later\n');
    expect(r.gap).toBe(true);
    expect(r.buffer).toBe(b);
  });

  it('takes a read that starts past what it asked for (a capped log) as it is', () => {
    const b = applyRead(EMPTY_LOG, { offset: 100, text: 'newest\n' });
    expect(b).toMatchObject({ start: 100, end: 107, dropped: true, text: 'newest\n' });
  });

  it('stays under its bound by dropping the oldest whole lines', () => {
    let b = applyRead(EMPTY_LOG, { offset: 0, text: '' }, 21);
    for (let i = 0; i < 10; i += 1) b = applyChunk(b, b.end, `line ${i}\n`, 21).buffer;
    expect(b.text.length).toBeLessThanOrEqual(21);
    expect(b.dropped).toBe(true);
    expect(linesOf(b)).toEqual(['line 7', 'line 8', 'line 9']);
    expect(b.end).toBe(70);
    expect(b.start).toBe(49);
  });

  it('says reset when bytes at an offset it holds differ (the server cut the log, offsets start lower)', () => {
    const b = applyRead(EMPTY_LOG, { offset: 0, text: 'aaaa\nbbbb\ncccc\n' });
    // a true duplicate agrees with what is held
    expect(applyChunk(b, 5, 'bbbb\n').reset).toBeFalsy();
    // after a cut the server's offset 5 holds other bytes
    const r = applyChunk(b, 5, 'dddd\n');
    expect(r.reset).toBe(true);
    expect(r.buffer).toBe(b);
  });
});
