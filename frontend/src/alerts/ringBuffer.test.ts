import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ringBuffer';

describe('RingBuffer', () => {
  it('keeps the newest entries up to its capacity, oldest first', () => {
    const ring = new RingBuffer<number>(3);
    expect(ring.size).toBe(0);
    for (let i = 0; i < 5; i += 1) ring.push(i);
    expect(ring.size).toBe(3);
    expect(ring.toArray()).toEqual([2, 3, 4]);
    expect(ring.dropped).toBe(2);
    expect(ring.at(0)).toBe(2);
    expect(ring.at(2)).toBe(4);
    expect(ring.at(3)).toBeUndefined();
    expect(ring.at(-1)).toBeUndefined();
  });

  it('never grows past its capacity however much is pushed', () => {
    const ring = new RingBuffer<string>(10_000);
    for (let i = 0; i < 250_000; i += 1) ring.push(`line ${i}`);
    expect(ring.size).toBe(10_000);
    expect(ring.at(0)).toBe('line 240000');
    expect(ring.at(9_999)).toBe('line 249999');
    expect(ring.dropped).toBe(240_000);
  });

  it('numbers entries with sequence numbers that survive drops', () => {
    const ring = new RingBuffer<string>(2);
    expect(ring.push('a')).toBe(0);
    expect(ring.push('b')).toBe(1);
    expect(ring.push('c')).toBe(2);
    expect(ring.firstSeq).toBe(1);
    expect(ring.nextSeq).toBe(3);
    expect(ring.bySeq(0)).toBeUndefined();
    expect(ring.bySeq(1)).toBe('b');
    expect(ring.bySeq(2)).toBe('c');
  });

  it('slices, takes the last n and finds', () => {
    const ring = new RingBuffer<number>(4);
    ring.pushAll([1, 2, 3, 4, 5, 6]);
    expect(ring.slice(1, 3)).toEqual([4, 5]);
    expect(ring.slice(-5, 99)).toEqual([3, 4, 5, 6]);
    expect(ring.last(2)).toEqual([5, 6]);
    expect(ring.last(10)).toEqual([3, 4, 5, 6]);
    expect(ring.last(0)).toEqual([]);
    expect(ring.findIndices((n) => n % 2 === 0)).toEqual([1, 3]);
  });

  it('clears without reusing sequence numbers', () => {
    const ring = new RingBuffer<number>(2);
    ring.pushAll([1, 2, 3]);
    ring.clear();
    expect(ring.size).toBe(0);
    expect(ring.toArray()).toEqual([]);
    expect(ring.push(9)).toBe(3);
    expect(ring.toArray()).toEqual([9]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });
});
