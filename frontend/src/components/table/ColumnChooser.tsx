/**
 * The "Columns" popover of a DataTable: a checkbox per column and the user's saved column sets
 * (choose, save as, make default, delete). A disclosure button opens it; Escape or a click
 * outside closes it and focus returns to the button.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { apiErrorText } from '../../lib/messages';
import type { TableView } from './types';
import { useDeleteTableView, useSaveTableView, useSetDefaultTableView } from './views';

export interface ChooserColumn {
  id: string;
  label: string;
  visible: boolean;
  hiddenByWidth: boolean;
}

export function ColumnChooser({
  tableKey,
  columns,
  onToggle,
  views,
  viewsError,
  activeViewId,
  onApplyView,
  chosenIds,
}: {
  tableKey: string;
  columns: ChooserColumn[];
  onToggle: (id: string, visible: boolean) => void;
  views: TableView[] | undefined;
  viewsError: boolean;
  activeViewId: number | null;
  /** null: the standard columns. */
  onApplyView: (view: TableView | null) => void;
  chosenIds: string[];
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState('');
  const [notice, setNotice] = useState('');
  const panelId = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  const save = useSaveTableView(tableKey);
  const setDefault = useSetDefaultTableView(tableKey);
  const remove = useDeleteTableView(tableKey);
  const error = save.error ?? setDefault.error ?? remove.error;

  const close = (returnFocus: boolean) => {
    setOpen(false);
    setNaming(false);
    if (returnFocus) buttonRef.current?.focus();
  };

  useEffect(() => {
    if (!open) return undefined;
    panelRef.current?.querySelector<HTMLElement>('input, select, button')?.focus();
    const onDown = (e: MouseEvent) => {
      if (rootRef.current && e.target instanceof Node && !rootRef.current.contains(e.target)) close(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const visibleCount = columns.filter((c) => c.visible).length;
  const active = views?.find((v) => v.id === activeViewId) ?? null;
  const currentDefault = views?.find((v) => v.is_default) ?? null;

  const reset = () => {
    save.reset();
    setDefault.reset();
    remove.reset();
    setNotice('');
  };

  const onSave = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    reset();
    const existing = views?.find((v) => v.name === trimmed);
    save.mutate(
      { id: existing?.id, name: trimmed, columns: chosenIds },
      {
        onSuccess: (view) => {
          setNaming(false);
          setName('');
          onApplyView(view);
          setNotice(t('table.views.saved', { name: view.name }));
        },
      },
    );
  };

  const onMakeDefault = () => {
    reset();
    if (active) {
      setDefault.mutate(
        { id: active.id, is_default: true },
        { onSuccess: (view) => setNotice(t('table.views.defaultSet', { name: view.name })) },
      );
    } else if (currentDefault) {
      setDefault.mutate(
        { id: currentDefault.id, is_default: false },
        { onSuccess: () => setNotice(t('table.views.defaultSet', { name: t('table.views.standard') })) },
      );
    }
  };

  const onDelete = () => {
    if (!active) return;
    reset();
    remove.mutate(active.id, {
      onSuccess: () => {
        onApplyView(null);
        setNotice(t('table.views.deleted', { name: active.name }));
      },
    });
  };

  const isDefault = active ? active.is_default : currentDefault === null;

  return (
    <div className="dt-columns" ref={rootRef}>
      <button
        ref={buttonRef}
        type="button"
        className="btn btn-small"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        data-testid="columns-button"
        onClick={() => (open ? close(false) : setOpen(true))}
      >
        {t('table.columns')}
        {active && <span className="dt-columns-view"> · {active.name}</span>}
      </button>
      {open && (
        <div
          id={panelId}
          ref={panelRef}
          className="dt-columns-panel"
          role="dialog"
          aria-label={t('table.columnsTitle')}
          data-testid="columns-panel"
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              close(true);
            }
          }}
        >
          <fieldset className="dt-columns-list">
            <legend>{t('table.columnsTitle')}</legend>
            {columns.map((c) => (
              <label key={c.id} className="dt-columns-item">
                <input
                  type="checkbox"
                  checked={c.visible}
                  disabled={c.visible && visibleCount <= 1}
                  onChange={(e) => onToggle(c.id, e.target.checked)}
                  data-testid={`column-toggle-${c.id}`}
                />
                <span>{c.label}</span>
                {c.visible && c.hiddenByWidth && <span className="dt-muted small"> ({t('table.hiddenNarrow')})</span>}
              </label>
            ))}
          </fieldset>
          <fieldset className="dt-views">
            <legend>{t('table.views.title')}</legend>
            {viewsError && <p className="dt-muted small">{t('table.views.loadError')}</p>}
            <label className="dt-views-select">
              <span>{t('table.views.current')}</span>
              <select
                value={activeViewId === null ? '' : String(activeViewId)}
                data-testid="view-select"
                onChange={(e) => {
                  reset();
                  const id = Number(e.target.value);
                  onApplyView(e.target.value ? (views?.find((v) => v.id === id) ?? null) : null);
                }}
              >
                <option value="">
                  {t('table.views.standard')}
                  {currentDefault === null ? ` (${t('table.views.isDefault')})` : ''}
                </option>
                {(views ?? []).map((v) => (
                  <option key={v.id} value={String(v.id)}>
                    {v.name}
                    {v.is_default ? ` (${t('table.views.isDefault')})` : ''}
                  </option>
                ))}
              </select>
            </label>
            <div className="dt-views-actions">
              <button
                type="button"
                className="btn btn-small"
                data-testid="view-make-default"
                disabled={isDefault || setDefault.isPending}
                onClick={onMakeDefault}
              >
                {t('table.views.makeDefault')}
              </button>
              {active && (
                <button type="button" className="btn btn-small" data-testid="view-delete" disabled={remove.isPending} onClick={onDelete}>
                  {t('table.views.delete')}
                </button>
              )}
              {!naming && (
                <button
                  type="button"
                  className="btn btn-small"
                  data-testid="view-save-as"
                  onClick={() => {
                    reset();
                    setName(active?.name ?? '');
                    setNaming(true);
                  }}
                >
                  {t('table.views.saveAs')}
                </button>
              )}
            </div>
            {naming && (
              <form className="dt-views-form" onSubmit={onSave}>
                <label>
                  <span>{t('table.views.name')}</span>
                  <input
                    type="text"
                    value={name}
                    maxLength={64}
                    required
                    autoFocus
                    placeholder={t('table.views.namePlaceholder')}
                    onChange={(e) => setName(e.target.value)}
                    data-testid="view-name"
                  />
                </label>
                <button type="submit" className="btn btn-small btn-primary" disabled={save.isPending || !name.trim()} data-testid="view-save">
                  {t('table.views.save')}
                </button>
                <button type="button" className="btn btn-small" onClick={() => setNaming(false)}>
                  {t('table.views.cancel')}
                </button>
              </form>
            )}
            {error ? (
              <p className="dt-error small" role="alert">
                {apiErrorText(t, error)}
              </p>
            ) : null}
            <p className="dt-muted small" role="status" data-testid="view-notice">
              {notice}
            </p>
          </fieldset>
          <p className="dt-muted small">{t('table.columnsHint')}</p>
        </div>
      )}
    </div>
  );
}
