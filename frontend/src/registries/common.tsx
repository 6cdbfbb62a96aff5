/**
 * Pieces shared by the registries pages: the registry status badge, scan chips by severity, a
 * copy button, and a side drawer (Escape or the backdrop closes it, focus moves into it).
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useFocusTrap } from '../components/focusTrap';
import { countChips } from './format';
import './registries.css';
import type { RegistryStatus, ScanSummary, Severity } from './types';

const STATUS_TONE: Record<RegistryStatus, string> = { ok: 'tone-ok', error: 'tone-bad', unknown: 'tone-neutral' };

export function RegistryStatusBadge({ status }: { status: RegistryStatus }) {
  const { t } = useTranslation();
  return (
    <span className={`badge ${STATUS_TONE[status] ?? 'tone-neutral'}`} data-testid="registry-status" data-state={status}>
      {t(`registries.status.${status}`, { defaultValue: status })}
    </span>
  );
}

export function SeverityChip({ severity, count }: { severity: Severity; count?: number }) {
  const { t } = useTranslation();
  const label = t(`registries.severity.${severity}`);
  return (
    <span className={`sev-chip sev-${severity.toLowerCase()}`} data-testid={`sev-${severity}`} data-count={count}>
      {count === undefined ? label : `${label} ${count}`}
    </span>
  );
}

/** A tag's scan summary: a chip per severity with findings, "no findings", or "not scanned". */
export function ScanChips({ scan }: { scan: ScanSummary | null }) {
  const { t } = useTranslation();
  if (!scan) {
    return (
      <span className="muted small" data-testid="scan-none">
        {t('registries.scan.notScanned')}
      </span>
    );
  }
  const chips = countChips(scan.counts);
  if (chips.length === 0) {
    return (
      <span className="sev-chip sev-none" data-testid="scan-clean">
        {t('registries.scan.clean')}
      </span>
    );
  }
  return (
    <span className="chips" data-testid="scan-chips">
      {chips.map((c) => (
        <SeverityChip key={c.severity} severity={c.severity} count={c.count} />
      ))}
    </span>
  );
}

export function CopyButton({ text, label, testId }: { text: string; label: string; testId?: string }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="btn btn-small"
      title={label}
      aria-label={label}
      data-testid={testId}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setCopied(true), () => undefined);
      }}
    >
      {copied ? t('registries.copied') : t('registries.copy')}
    </button>
  );
}

export function Drawer({ title, onClose, children, testId }: { title: ReactNode; onClose: () => void; children: ReactNode; testId?: string }) {
  const { t } = useTranslation();
  const titleId = useId();
  const ref = useRef<HTMLDivElement>(null);
  useFocusTrap(ref, onClose);
  return (
    <div className="drawer-backdrop" onClick={onClose}>
      <div
        className="drawer"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        ref={ref}
        data-testid={testId}
        onClick={(e) => e.stopPropagation()}
      >
        <div className="drawer-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="btn btn-small" onClick={onClose}>
            {t('common.close')}
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}
