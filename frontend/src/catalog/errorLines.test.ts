import { describe, expect, it } from 'vitest';
import { errorLines } from './common';

describe('errorLines (issue 22: one quota error showed three times)', () => {
  it('drops the summary that repeats a field error and shows a message once', () => {
    const message = 'requests.cpu: 3 requested, 1 of 2 used, 1 left.';
    expect(errorLines({ detail: `Invalid input: quota: ${message}`, fieldErrors: { quota: [message], values: [message] } }, (f) => (f === 'quota' ? '쿼터' : f))).toEqual([
      `쿼터: ${message}`,
    ]);
  });
  it('keeps a detail that says something of its own', () => {
    expect(errorLines({ detail: 'Revision 2 is still deploying.', fieldErrors: {} })).toEqual(['Revision 2 is still deploying.']);
    expect(errorLines({ detail: 'Conflict.', fieldErrors: { non_field_errors: ['Busy.'] } })).toEqual(['Conflict.', 'Busy.']);
  });
});
