import i18n from 'i18next';
import { describe, expect, it } from 'vitest';
import '../i18n';
import { auditActionLabel, auditTargetLabel } from './labels';

describe('audit actions and targets in words (issue 22)', () => {
  it('translates known codes, patterns and the middleware’s method:view in both languages', async () => {
    await i18n.changeLanguage('ko');
    const t = i18n.t.bind(i18n);
    expect(auditActionLabel(t, 'node.cordon.finished')).toBe(`${t('clusters.nodeOp.cordon')} 완료`);
    expect(auditActionLabel(t, 'release.upgrade')).toBe('릴리스 업그레이드');
    expect(auditActionLabel(t, 'post:catalog-release-upgrade')).toBe('생성·실행 요청 (catalog-release-upgrade)');
    expect(auditTargetLabel(t, 'clusters.cluster')).toBe('클러스터');
    expect(auditActionLabel(t, 'something.new')).toBe('something.new'); // unknown: the code as is
    await i18n.changeLanguage('en');
    expect(auditActionLabel(i18n.t.bind(i18n), 'servicemap.deleted')).toBe('Service map deleted');
  });
});
