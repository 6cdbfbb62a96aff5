/**
 * Responsive column hiding: when the table is wider than its box, columns of priority 3 go first,
 * then those of priority 2. Priority 1 columns always stay. The width the table needed before a
 * level was hidden is remembered, so the columns come back once the box is that wide again.
 */
import type { ColumnPriority } from './types';

/** 0: everything shown; 1: priority 3 hidden; 2: priorities 3 and 2 hidden. */
export type HideLevel = 0 | 1 | 2;

export interface PriorityState {
  level: HideLevel;
  /** needed[l]: the table's width (px) when it was shown at level l, before hiding more. */
  needed: [number | null, number | null, number | null];
}

export const INITIAL_PRIORITY: PriorityState = { level: 0, needed: [null, null, null] };

/** Which priorities a level hides. */
export function hiddenPriorities(level: HideLevel): ColumnPriority[] {
  return level === 0 ? [] : level === 1 ? [3] : [3, 2];
}

/**
 * One step of the fitting loop, run after each layout: `box` is the width available, `table` the
 * width the table takes at the current level, `canHideMore` whether the next level would hide any
 * visible column. Returns the same object when nothing changes.
 */
export function nextPriorityState(
  state: PriorityState,
  box: number,
  table: number,
  canHideMore: (level: HideLevel) => boolean,
): PriorityState {
  if (box <= 0) return state; // not laid out (hidden, or a test DOM without layout)
  const { level, needed } = state;
  if (table > box + 1 && level < 2) {
    // Skip levels that would hide nothing.
    let next = (level + 1) as HideLevel;
    while (next < 2 && !canHideMore(next)) next = (next + 1) as HideLevel;
    if (!canHideMore(next)) return state;
    const copy: PriorityState['needed'] = [...needed];
    copy[level] = table;
    return { level: next, needed: copy };
  }
  if (level > 0) {
    // Find the lowest level whose recorded need fits the box now.
    let target = level;
    for (let l = level - 1; l >= 0; l -= 1) {
      const need = needed[l] ?? null;
      if (need === null) continue;
      if (need <= box) target = l as HideLevel;
      else break;
    }
    if (target !== level) return { level: target, needed };
  }
  return state;
}
