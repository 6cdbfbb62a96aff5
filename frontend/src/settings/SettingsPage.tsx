/**
 * /admin/settings (system admins): the portal's effective configuration in sections (address
 * policy, retention, intervals, watcher, limits, sessions, versions …), each setting with its
 * value, default, the environment variable that sets it and where the value comes from.
 * Secrets are never sent by the server; their rows say only whether they are set.
 */
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { ErrorState } from '../components/ErrorState';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { useEffectiveSettings } from './queries';
import type { SettingEntry, SettingValue } from './types';
import './settings.css';

function plain(t: TFunction, value: SettingValue): string {
  if (value === null) return t('admin.settings.none');
  if (typeof value === 'boolean') return value ? t('admin.settings.yes') : t('admin.settings.no');
  if (Array.isArray(value)) return value.length === 0 ? t('admin.settings.none') : value.map((v) => plain(t, v)).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  if (value === '') return t('admin.settings.empty');
  return String(value);
}

export function formatSetting(t: TFunction, entry: Pick<SettingEntry, 'unit'>, value: SettingValue): string {
  const text = plain(t, value);
  if (entry.unit && typeof value === 'number') return `${text} ${t(`admin.settings.unit.${entry.unit}`)}`;
  return text;
}

function Source({ entry }: { entry: SettingEntry }) {
  const { t } = useTranslation();
  if (entry.secret) {
    return entry.from_env ? <span className="badge">{t('admin.settings.source.env')}</span> : <span className="muted">{t('admin.settings.source.default')}</span>;
  }
  if (entry.from_env) return <span className="badge">{t('admin.settings.source.env')}</span>;
  if (!entry.is_default) return <span className="badge tone-warn">{t('admin.settings.source.changed')}</span>;
  return <span className="muted">{t('admin.settings.source.default')}</span>;
}

function matches(entry: SettingEntry, needle: string): boolean {
  if (!needle) return true;
  const hay = `${entry.key} ${entry.env ?? ''} ${entry.secret ? '' : JSON.stringify(entry.value)}`.toLowerCase();
  return hay.includes(needle.toLowerCase());
}

export function SettingsPage() {
  const { t } = useTranslation();
  const settings = useEffectiveSettings();
  const [needle, setNeedle] = useState('');
  const sections = useMemo(
    () =>
      (settings.data?.sections ?? [])
        .map((s) => ({ ...s, entries: s.entries.filter((e) => matches(e, needle.trim())) }))
        .filter((s) => s.entries.length > 0),
    [settings.data, needle],
  );

  return (
    <section className="page" data-testid="settings-page">
      <header className="page-header">
        <h1>{t('admin.settings.title')}</h1>
        <p className="muted">{t('admin.settings.intro')}</p>
        {settings.data && (
          <p className="muted small" data-testid="settings-meta">
            {t('admin.settings.environment')}: <strong data-testid="settings-environment">{settings.data.environment}</strong>
            {' · '}
            {t('admin.settings.version')}: <strong>{settings.data.version}</strong>
            {' · '}
            {t('admin.settings.generated', { time: formatDateTime(settings.data.generated_at) ?? '' })}
          </p>
        )}
      </header>
      {settings.isPending && <Loading />}
      {settings.isError && <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />}
      {settings.data && (
        <>
          <label className="field settings-search">
            <span>{t('admin.settings.filter')}</span>
            <input type="search" value={needle} onChange={(e) => setNeedle(e.target.value)} data-testid="settings-search" />
          </label>
          {sections.length === 0 && <p className="muted">{t('admin.settings.noMatch')}</p>}
          {sections.map((section) => (
            <section
              key={section.key}
              className="card settings-section"
              aria-labelledby={`settings-${section.key}`}
              data-testid={`settings-section-${section.key}`}
            >
              <h2 id={`settings-${section.key}`}>
                {t(`admin.settings.sections.${section.key}` as 'admin.settings.title', { defaultValue: section.key })}
              </h2>
              <div className="table-wrap">
                <table className="table table-dense settings-table">
                  <thead>
                    <tr>
                      <th scope="col" className="settings-key-col">
                        {t('admin.settings.col.key')}
                      </th>
                      <th scope="col">{t('admin.settings.col.value')}</th>
                      <th scope="col">{t('admin.settings.col.default')}</th>
                      <th scope="col">{t('admin.settings.col.env')}</th>
                      <th scope="col" className="settings-source-col">
                        {t('admin.settings.col.source')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {section.entries.map((entry) => (
                      <tr key={entry.key} data-testid={`setting-${entry.key}`}>
                        <th scope="row" className="mono">
                          {entry.key}
                        </th>
                        <td className={entry.is_default ? 'mono' : 'mono settings-changed'} data-testid="setting-value">
                          {entry.secret
                            ? entry.value
                              ? t('admin.settings.secret.set')
                              : t('admin.settings.secret.unset')
                            : formatSetting(t, entry, entry.value)}
                        </td>
                        <td className="mono muted">{entry.secret || entry.default === null ? '—' : formatSetting(t, entry, entry.default)}</td>
                        <td className="mono small">{entry.env ?? '—'}</td>
                        <td>
                          <Source entry={entry} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          ))}
        </>
      )}
    </section>
  );
}
