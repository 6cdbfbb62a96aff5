/**
 * A fixed-size ring of log entries for the log viewer: a tab following a chatty pod for an hour
 * holds at most `capacity` entries (older ones are overwritten and counted in `dropped`), so memory
 * stays flat however long it runs. Index 0 is the oldest entry held. Each entry gets a sequence
 * number (`seq`) that never repeats, so the view can key rows and keep a search hit across drops.
 */

export class RingBuffer<T> {
  readonly capacity: number;
  private readonly items: (T | undefined)[];
  /** Where the oldest entry sits in `items`. */
  private head = 0;
  private count = 0;
  /** Entries pushed since the start (the next entry's seq). */
  private pushed = 0;
  /** Entries overwritten because the ring was full. */
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** The seq of the oldest entry held (equal to `nextSeq` when empty). */
  get firstSeq(): number {
    return this.pushed - this.count;
  }

  get nextSeq(): number {
    return this.pushed;
  }

  push(item: T): number {
    const seq = this.pushed;
    if (this.count < this.capacity) {
      this.items[(this.head + this.count) % this.capacity] = item;
      this.count += 1;
    } else {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      this.dropped += 1;
    }
    this.pushed += 1;
    return seq;
  }

  pushAll(items: Iterable<T>): void {
    for (const item of items) this.push(item);
  }

  /** The entry at `index` (0 = oldest held), or undefined. */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) % this.capacity];
  }

  /** The entry with sequence number `seq`, when it is still held. */
  bySeq(seq: number): T | undefined {
    return this.at(seq - this.firstSeq);
  }

  /** Entries `[start, end)` (indices, oldest first), clamped to what is held. */
  slice(start = 0, end = this.count): T[] {
    const from = Math.max(0, start);
    const to = Math.min(this.count, end);
    const out: T[] = [];
    for (let i = from; i < to; i += 1) out.push(this.items[(this.head + i) % this.capacity] as T);
    return out;
  }

  /** The newest `n` entries, oldest first. */
  last(n: number): T[] {
    return this.slice(this.count - Math.max(0, n));
  }

  toArray(): T[] {
    return this.slice();
  }

  /** Indices (0 = oldest) of the entries `match` accepts. */
  findIndices(match: (item: T) => boolean): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i += 1) if (match(this.items[(this.head + i) % this.capacity] as T)) out.push(i);
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.dropped = 0;
  }
}
