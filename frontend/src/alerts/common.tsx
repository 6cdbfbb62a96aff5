/** Pieces the alerts pages share: badges, the section's tabs, permissions with their reasons. */
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { NavLink } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { serverText } from '../lib/messages';
import type { AlertState, PermissionLike, Severity } from './types';
import './alerts.css';

export function SeverityBadge({ severity }: { severity: Severity | string }) {
  const { t } = useTranslation();
  const known = severity === 'critical' || severity === 'warning' || severity === 'info';
  return (
    <span className={`badge sev-${severity}`} data-testid="alert-severity" data-severity={severity}>
      {known ? t(`alerts.severity.${severity}`) : severity}
    </span>
  );
}

export function StateBadge({ state }: { state: AlertState | string }) {
  const { t } = useTranslation();
  const known = state === 'pending' || state === 'firing' || state === 'acknowledged' || state === 'resolved';
  return (
    <span className={`badge state-${state}`} data-testid="alert-state" data-state={state}>
      {known ? t(`alerts.state.${state}`) : state}
    </span>
  );
}

export function AlertsTabs() {
  const { t } = useTranslation();
  const tabs = [
    { to: '/alerts', label: t('alerts.tabs.alerts'), end: true, id: 'alerts' },
    { to: '/alerts/rules', label: t('alerts.tabs.rules'), end: false, id: 'rules' },
    { to: '/alerts/silences', label: t('alerts.tabs.silences'), end: false, id: 'silences' },
    { to: '/alerts/channels', label: t('alerts.tabs.channels'), end: false, id: 'channels' },
  ];
  return (
    <nav className="tabs alerts-tabs" aria-label={t('alerts.tabs.label')}>
      {tabs.map((tab) => (
        <NavLink key={tab.id} to={tab.to} end={tab.end} className={({ isActive }) => (isActive ? 'tab active' : 'tab')} data-testid={`alerts-tab-${tab.id}`}>
          {tab.label}
        </NavLink>
      ))}
    </nav>
  );
}

export interface Allowed {
  allowed: boolean;
  /** Why not, in the user's language ('' when allowed). */
  reason: string;
}

/**
 * Whether an action is allowed: the row's own `permissions` entry when the server sent one (its
 * `code` translated), else `fallback` (what the console can tell from the user's role and grants),
 * with `fallbackReason` as the why-not.
 */
export function permission(t: TFunction, entry: PermissionLike, fallback: boolean, fallbackReason: string): Allowed {
  if (typeof entry === 'boolean') return { allowed: entry, reason: entry ? '' : fallbackReason };
  if (entry && typeof entry === 'object') {
    if (entry.allowed) return { allowed: true, reason: '' };
    const text = serverText(t, { code: entry.code, params: entry.params, text: entry.reason ?? '' });
    return { allowed: false, reason: text || fallbackReason };
  }
  return { allowed: fallback, reason: fallback ? '' : fallbackReason };
}

/** A duration in seconds as "5 min", "2 h", "30 s". */
export function durationText(t: TFunction, seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds === 0) return t('alerts.duration.none');
  if (seconds % 3600 === 0) return t('alerts.duration.hours', { n: seconds / 3600 });
  if (seconds % 60 === 0) return t('alerts.duration.minutes', { n: seconds / 60 });
  return t('alerts.duration.seconds', { n: seconds });
}

/** The field errors of a failed call (a 400's `errors`); none for anything but an ApiError. */
export function fieldsOf(error: unknown): Record<string, string[]> {
  return error instanceof ApiError ? error.fieldErrors : {};
}
