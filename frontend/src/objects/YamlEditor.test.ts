import { describe, expect, it } from 'vitest';
import { minimalChange } from './YamlEditor';

/** Applies a change as CodeMirror would. */
function apply(text: string, change: { from: number; to: number; insert: string }): string {
  return text.slice(0, change.from) + change.insert + text.slice(change.to);
}

describe('minimalChange', () => {
  it('is null for equal texts', () => {
    expect(minimalChange('a: 1\n', 'a: 1\n')).toBeNull();
  });

  it('replaces only what differs, so a position after it keeps its line', () => {
    const before = 'metadata:\n  name: web\nspec:\n  replicas: 1\n';
    const after = 'metadata:\n  annotations:\n    rev: "1"\n  name: web\nspec:\n  replicas: 1\n';
    const change = minimalChange(before, after)!;
    expect(apply(before, change)).toBe(after);
    expect(change.from).toBeGreaterThanOrEqual('metadata:\n  '.length);
    expect(change.to).toBeLessThanOrEqual(before.indexOf('spec:'));
  });

  it('handles growth and shrinking at either end', () => {
    const pairs: [string, string][] = [['', 'x'], ['x', ''], ['abc', 'abcd'], ['abcd', 'bcd'], ['aXa', 'aa'], ['aa', 'aXa']];
    for (const [a, b] of pairs) {
      expect(apply(a, minimalChange(a, b)!)).toBe(b);
    }
  });
});
