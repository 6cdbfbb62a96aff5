import { describe, expect, it } from 'vitest';
import { INITIAL_PRIORITY, nextPriorityState } from './priority';

describe('nextPriorityState', () => {
  const always = () => true;
  it('hides levels while the table overflows and brings them back when wide enough', () => {
    let s = nextPriorityState(INITIAL_PRIORITY, 800, 1200, always);
    expect(s.level).toBe(1);
    expect(s.needed[0]).toBe(1200);
    s = nextPriorityState(s, 800, 1000, always);
    expect(s.level).toBe(2);
    expect(nextPriorityState(s, 800, 700, always)).toBe(s);
    s = nextPriorityState(s, 1100, 700, always);
    expect(s.level).toBe(1);
    s = nextPriorityState(s, 1300, 900, always);
    expect(s.level).toBe(0);
  });
  it('skips levels that hide nothing and ignores an unmeasured box', () => {
    expect(nextPriorityState(INITIAL_PRIORITY, 0, 1200, always)).toBe(INITIAL_PRIORITY);
    const s = nextPriorityState(INITIAL_PRIORITY, 800, 1200, (level) => level === 2);
    expect(s.level).toBe(2);
    expect(nextPriorityState(INITIAL_PRIORITY, 800, 1200, () => false)).toBe(INITIAL_PRIORITY);
  });
});
