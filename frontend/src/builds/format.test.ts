import i18n from 'i18next';
import { afterEach, describe, expect, it } from 'vitest';
import { changeLanguage } from '../i18n';
import { duration, imageRef, runStatusText, shortDigest } from './format';
import { runRow } from './testData';

const t = i18n.t.bind(i18n);

describe("the list's status column (Cocktail's words)", () => {
  afterEach(async () => {
    await changeLanguage('en');
  });

  it('says DONE, RUNNING, QUEUED, CANCELLED', () => {
    expect(runStatusText(t, runRow(1, { status: 'succeeded' }))).toBe('DONE');
    expect(runStatusText(t, runRow(1, { status: 'running', steps_done: 1 }))).toBe('RUNNING');
    expect(runStatusText(t, runRow(1, { status: 'queued', steps_done: 0 }))).toBe('QUEUED');
    expect(runStatusText(t, runRow(1, { status: 'cancelled' }))).toBe('CANCELLED');
    expect(runStatusText(t, runRow(1, { status: 'cancelling' }))).toBe('CANCELLING');
  });

  it('says ERROR <failed step>/<steps> for a failed run', () => {
    expect(runStatusText(t, runRow(1, { status: 'failed', failed_step: 4, steps_done: 3, steps_total: 6 }))).toBe('ERROR 4/6');
    // without failed_step: the step after the last one done
    expect(runStatusText(t, runRow(1, { status: 'failed', failed_step: null, steps_done: 1, steps_total: 4 }))).toBe('ERROR 2/4');
    expect(runStatusText(t, runRow(1, { status: 'failed', failed_step: null, steps_done: 0, steps_total: 0 }))).toBe('ERROR');
  });

  it('keeps the status words in Korean', async () => {
    await changeLanguage('ko');
    const ko = i18n.t.bind(i18n);
    expect(runStatusText(ko, runRow(1, { status: 'failed', failed_step: 2, steps_total: 3 }))).toBe('ERROR 2/3');
    expect(duration(ko, '2026-12-01T10:00:00Z', '2026-12-01T10:03:05Z', Date.now())).toBe('3분 05초');
  });

  it('shortens digests, names the image and words durations', () => {
    expect(shortDigest('sha256:aabbccddeeff00112233')).toBe('sha256:aabbccddeeff');
    expect(shortDigest('')).toBe('');
    expect(imageRef(runRow(5))).toBe('127.0.0.1:55000/team-1/shop-api:1.0.B000005');
    expect(imageRef(runRow(5, { image_tag: '' }))).toBe('127.0.0.1:55000/team-1/shop-api');
    const now = Date.parse('2026-12-01T11:02:00Z');
    expect(duration(t, '2026-12-01T10:00:00Z', '2026-12-01T10:00:12Z', now)).toBe('12s');
    expect(duration(t, '2026-12-01T10:00:00Z', '2026-12-01T10:03:05Z', now)).toBe('3m 05s');
    expect(duration(t, '2026-12-01T10:00:00Z', null, now)).toBe('1h 02m');
    expect(duration(t, null, null, now)).toBe('');
  });
});
