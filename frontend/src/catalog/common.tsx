/**
 * Pieces shared by the catalog pages: state badges, the package icon, a unified diff with +/-
 * colouring, the readme as plain text (chart readmes are untrusted: never parsed into HTML), and
 * the values helpers (dotted paths, deep merge, JSON text).
 */
import i18n from 'i18next';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';
import { apiErrorText } from '../lib/messages';
import './catalog.css';
import type { Values } from './types';

const TONE: Record<string, string> = {
  ready: 'tone-ok',
  deployed: 'tone-ok',
  healthy: 'tone-ok',
  succeeded: 'tone-ok',
  pending: 'tone-neutral',
  superseded: 'tone-neutral',
  skipped: 'tone-neutral',
  cancelled: 'tone-neutral',
  refreshing: 'tone-warn',
  deploying: 'tone-warn',
  applying: 'tone-warn',
  progressing: 'tone-warn',
  running: 'tone-warn',
  deleting: 'tone-warn',
  error: 'tone-bad',
  failed: 'tone-bad',
};

/** A release, revision, rollout, target or source state; the text is translated when known. */
export function CatalogBadge({ state, title, testId }: { state: string; title?: string; testId?: string }) {
  const { t } = useTranslation();
  const label = t(`catalog.state.${state}` as 'catalog.state.pending', { defaultValue: state });
  return (
    <span className={`badge ${TONE[state] ?? 'tone-neutral'}`} title={title || undefined} data-testid={testId} data-state={state}>
      {label}
    </span>
  );
}

/** Only https and data-image icons are shown; anything else becomes the name's first letter. */
export function PackageIcon({ icon, name }: { icon: string; name: string }) {
  const safe = /^https:\/\//i.test(icon) || /^data:image\/(png|jpeg|gif|webp|svg\+xml);/i.test(icon);
  if (safe) return <img className="pkg-icon" src={icon} alt="" referrerPolicy="no-referrer" loading="lazy" />;
  return (
    <span className="pkg-icon pkg-icon-letter" aria-hidden="true">
      {(name[0] ?? '?').toUpperCase()}
    </span>
  );
}

/** A unified diff, one line per row, `+` green and `-` red. */
export function DiffView({ diff, testId, emptyText }: { diff: string; testId?: string; emptyText?: string }) {
  if (!diff.trim()) return <p className="muted small" data-testid={testId} data-empty="true">{emptyText}</p>;
  const lines = diff.replace(/\n$/, '').split('\n');
  return (
    <pre className="code-block diff" data-testid={testId}>
      {lines.map((line, i) => {
        const cls =
          line.startsWith('+++') || line.startsWith('---')
            ? 'diff-file'
            : line.startsWith('@@')
              ? 'diff-hunk'
              : line.startsWith('+')
                ? 'diff-add'
                : line.startsWith('-')
                  ? 'diff-del'
                  : undefined;
        return (
          <span key={i} className={cls} data-diff={cls}>
            {line}
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}

/** The chart's README as preformatted text: no HTML from the chart ever reaches the DOM. */
export function Readme({ text }: { text: string }) {
  const { t } = useTranslation();
  if (!text.trim()) return <p className="muted small">{t('catalog.package.noReadme')}</p>;
  return (
    <pre className="readme" data-testid="package-readme">
      {text}
    </pre>
  );
}

// --- values ------------------------------------------------------------------------------

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function getPath(values: Values, path: string): unknown {
  let node: unknown = values;
  for (const part of path.split('.')) {
    if (!isRecord(node)) return undefined;
    node = node[part];
  }
  return node;
}

/** A copy of `values` with `path` set (or removed when `value` is undefined; empty parents go too). */
export function setPath(values: Values, path: string, value: unknown): Values {
  const [head = '', ...rest] = path.split('.');
  const out: Values = { ...values };
  if (rest.length === 0) {
    if (value === undefined) delete out[head];
    else out[head] = value;
    return out;
  }
  const child = setPath(isRecord(out[head]) ? (out[head] as Values) : {}, rest.join('.'), value);
  if (Object.keys(child).length === 0) delete out[head];
  else out[head] = child;
  return out;
}

/** Helm's merge: objects merge key by key, everything else replaces. */
export function deepMerge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isRecord(v) && isRecord(out[k]) ? deepMerge(out[k] as Values, v) : v;
  }
  return out;
}

/** Parses a JSON object typed by the user; an error message key when it is not one. */
export function parseValues(text: string): { values: Values } | { error: 'json' | 'object' } {
  if (!text.trim()) return { values: {} };
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? { values: parsed } : { error: 'object' };
  } catch {
    return { error: 'json' };
  }
}

export const pretty = (value: unknown) => JSON.stringify(value ?? {}, null, 2);

/**
 * The messages of an error answer, each once: the server's summary (`Invalid input: quota: …`)
 * repeats its first field error, so the summary is left out when a field error says it already,
 * and a message given for several fields shows once (issue 22: one quota error showed three times).
 * Field names are labelled through `label` (for example `quota` → 쿼터).
 */
export function errorLines(error: { detail: string; fieldErrors: Record<string, string[]> }, label: (field: string) => string = (f) => f): string[] {
  const lines: string[] = [];
  const messages = new Set<string>();
  for (const [field, list] of Object.entries(error.fieldErrors)) {
    for (const m of list) {
      if (messages.has(m)) continue;
      messages.add(m);
      lines.push(field === 'non_field_errors' ? m : `${label(field)}: ${m}`);
    }
  }
  // The summary in the user's language (by its code) leads whenever it is not the English one.
  const summary = error instanceof ApiError ? apiErrorText(i18n.t, error) : error.detail;
  if (summary !== error.detail) return [summary, ...lines];
  const repeated = [...messages].some((m) => error.detail.endsWith(m));
  return repeated || !error.detail ? lines : [error.detail, ...lines];
}

/** A field name of an error answer, translated when the console knows it. */
/** A 400's field key as a person reads it. With the rollout's ``targets`` (in the order they were
 * sent), ``targets.<i>.<field>`` names the target's cluster and namespace. */
export function useErrorFieldLabel(
  targets: readonly { namespace: string; cluster: { name: string } }[] = [],
): (field: string) => string {
  const { t } = useTranslation();
  const label = (field: string): string => {
    const known = ['quota', 'values', 'manifest', 'name', 'service_map', 'package_version'];
    if (known.includes(field)) return t(`catalog.errorField.${field}` as 'catalog.errorField.quota');
    const target = /^targets\.(\d+)\.(.+)$/.exec(field);
    const sm = target ? targets[Number(target[1])] : undefined;
    if (target && sm) {
      const rest = target[2] ?? '';
      return t('catalog.errorField.target', { cluster: sm.cluster.name, namespace: sm.namespace, field: label(rest) });
    }
    return field;
  };
  return label;
}
