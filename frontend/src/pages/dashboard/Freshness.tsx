/** "Updated 12 s ago": how fresh a tile's figures are, ticking while the page is open. */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { currentLanguage } from '../../i18n';
import { formatDateTime } from '../../lib/format';

/** After this long without news a tile's figures are called out as old. */
export const OLD_AFTER_SECONDS = 300;

export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function ago(seconds: number, lang: string): string {
  const format = new Intl.RelativeTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-US', { numeric: 'auto', style: 'short' });
  if (seconds < 60) return format.format(-Math.max(0, Math.round(seconds)), 'second');
  if (seconds < 3600) return format.format(-Math.round(seconds / 60), 'minute');
  if (seconds < 86400) return format.format(-Math.round(seconds / 3600), 'hour');
  return format.format(-Math.round(seconds / 86400), 'day');
}

export function Freshness({ asOf, now, testId }: { asOf: string | null; now: number; testId?: string }) {
  const { t } = useTranslation();
  if (!asOf) {
    return (
      <p className="tile-fresh old" data-testid={testId} data-age="unknown">
        {t('dashboards.fresh.unknown')}
      </p>
    );
  }
  const seconds = Math.max(0, (now - new Date(asOf).getTime()) / 1000);
  const old = seconds > OLD_AFTER_SECONDS;
  return (
    <p className={old ? 'tile-fresh old' : 'tile-fresh'} data-testid={testId} data-age={Math.round(seconds)}>
      <time dateTime={asOf} title={formatDateTime(asOf) ?? undefined}>
        {t(old ? 'dashboards.fresh.old' : 'dashboards.fresh.asOf', { ago: ago(seconds, currentLanguage()) })}
      </time>
    </p>
  );
}
