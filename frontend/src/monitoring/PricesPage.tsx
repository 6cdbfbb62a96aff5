/**
 * /monitoring/prices — the price sheets that turn core-hours and GiB-hours into money: one per
 * cluster, or per provider for every cluster of it without its own. Everyone signed in reads
 * them; admins create, edit and delete them (server errors shown at their fields).
 */
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { EmptyState } from '../components/EmptyState';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { ApiError } from '../api/errors';
import { useClusters } from '../clusters/queries';
import { apiErrorText } from '../lib/messages';
import { MonitoringPage } from './common';
import { moneyText } from './format';
import { useDeletePrice, usePrices, useSavePrice, useSeesInfrastructure } from './queries';
import type { PriceSheet, PriceSheetBody } from './types';

export const CURRENCIES = ['KRW', 'USD', 'EUR', 'JPY'] as const;
const PROVIDERS = ['onprem', 'eks', 'gke', 'aks', 'ncp', 'other'];

function clusterId(value: PriceSheet['cluster']): number | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'object' ? value.id : value;
}

export function bodyOf(sheet: PriceSheet | null): PriceSheetBody {
  if (!sheet) {
    return { name: '', cluster: null, provider: '', currency: 'KRW', cpu_core_hour: '', memory_gib_hour: '', effective_from: new Date().toISOString().slice(0, 10) };
  }
  return {
    name: sheet.name,
    cluster: clusterId(sheet.cluster),
    provider: sheet.provider ?? '',
    currency: sheet.currency,
    cpu_core_hour: String(sheet.cpu_core_hour),
    memory_gib_hour: String(sheet.memory_gib_hour),
    effective_from: sheet.effective_from,
  };
}

function PriceEditor({ sheet, onDone }: { sheet: PriceSheet | null; onDone: () => void }) {
  const { t } = useTranslation();
  const [body, setBody] = useState<PriceSheetBody>(() => bodyOf(sheet));
  const [target, setTarget] = useState<'cluster' | 'provider'>(sheet && clusterId(sheet.cluster) === null ? 'provider' : 'cluster');
  const save = useSavePrice(sheet?.id ?? null);
  const clusters = useClusters({ page_size: 200 });
  const error = save.error instanceof ApiError ? save.error : null;
  const errors = (field: string) => error?.forField(field) ?? [];
  const set = (key: keyof PriceSheetBody, value: string | number | null) => setBody((b) => ({ ...b, [key]: value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const out: PriceSheetBody = target === 'cluster' ? { ...body, provider: '' } : { ...body, cluster: null };
    save.mutate(out, { onSuccess: onDone });
  };
  return (
    <form className="card form-stack" onSubmit={submit} data-testid="price-form" noValidate>
      <h2 className="card-title">{sheet ? t('monitoring.prices.edit', { name: sheet.name }) : t('monitoring.prices.new')}</h2>
      <FormField label={t('monitoring.prices.name')} errors={errors('name')}>
        <input name="name" data-testid="price-name" value={body.name} onChange={(e) => set('name', e.target.value)} required maxLength={100} />
      </FormField>
      <div className="form-row">
        <FormField label={t('monitoring.prices.appliesTo')}>
          <select name="target" data-testid="price-target" value={target} onChange={(e) => setTarget(e.target.value === 'provider' ? 'provider' : 'cluster')}>
            <option value="cluster">{t('monitoring.prices.oneCluster')}</option>
            <option value="provider">{t('monitoring.prices.aProvider')}</option>
          </select>
        </FormField>
        {target === 'cluster' ? (
          <FormField label={t('monitoring.prices.cluster')} errors={errors('cluster')}>
            <select name="cluster" data-testid="price-cluster" value={body.cluster ? String(body.cluster) : ''} onChange={(e) => set('cluster', e.target.value ? Number(e.target.value) : null)}>
              <option value="">{t('monitoring.prices.chooseCluster')}</option>
              {(clusters.data?.results ?? []).map((c) => (
                <option key={c.id} value={String(c.id)}>
                  {c.display_name || c.name}
                </option>
              ))}
            </select>
          </FormField>
        ) : (
          <FormField label={t('monitoring.prices.provider')} errors={errors('provider')}>
            <select name="provider" data-testid="price-provider" value={body.provider} onChange={(e) => set('provider', e.target.value)}>
              <option value="">{t('monitoring.prices.chooseProvider')}</option>
              {PROVIDERS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </FormField>
        )}
      </div>
      <div className="form-row">
        <FormField label={t('monitoring.prices.currency')} errors={errors('currency')}>
          <select name="currency" data-testid="price-currency" value={body.currency} onChange={(e) => set('currency', e.target.value)}>
            {CURRENCIES.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label={t('monitoring.prices.cpuCoreHour')} errors={errors('cpu_core_hour')}>
          <input name="cpu_core_hour" inputMode="decimal" data-testid="price-cpu" value={body.cpu_core_hour} onChange={(e) => set('cpu_core_hour', e.target.value.trim())} />
        </FormField>
        <FormField label={t('monitoring.prices.memoryGibHour')} errors={errors('memory_gib_hour')}>
          <input name="memory_gib_hour" inputMode="decimal" data-testid="price-memory" value={body.memory_gib_hour} onChange={(e) => set('memory_gib_hour', e.target.value.trim())} />
        </FormField>
        <FormField label={t('monitoring.prices.effectiveFrom')} errors={errors('effective_from')}>
          <input type="date" name="effective_from" data-testid="price-effective" value={body.effective_from} onChange={(e) => set('effective_from', e.target.value)} />
        </FormField>
      </div>
      {save.error && (
        <div className="alert alert-error" role="alert" data-testid="price-error">
          {apiErrorText(t, save.error)}
        </div>
      )}
      <div className="wizard-buttons">
        <button type="button" className="btn" onClick={onDone}>
          {t('monitoring.prices.cancel')}
        </button>
        <button type="submit" className="btn btn-primary" disabled={save.isPending} data-testid="price-save">
          {save.isPending ? t('monitoring.prices.saving') : t('monitoring.prices.save')}
        </button>
      </div>
    </form>
  );
}

export function PricesPage() {
  const { t, i18n } = useTranslation();
  const { isAdmin } = useSeesInfrastructure();
  const prices = usePrices();
  const clusters = useClusters({ page_size: 200 });
  const [editing, setEditing] = useState<PriceSheet | 'new' | null>(null);
  const [deleting, setDeleting] = useState<PriceSheet | null>(null);
  const remove = useDeletePrice();
  const rows = prices.data ?? [];
  const clusterName = (sheet: PriceSheet) => {
    if (sheet.cluster && typeof sheet.cluster === 'object') return sheet.cluster.name;
    const id = clusterId(sheet.cluster);
    if (id === null) return null;
    const c = (clusters.data?.results ?? []).find((x) => x.id === id);
    return c ? c.display_name || c.name : `#${id}`;
  };
  return (
    <MonitoringPage
      title={t('monitoring.prices.title')}
      testId="monitoring-prices"
      actions={
        isAdmin && editing === null ? (
          <button type="button" className="btn btn-primary" data-testid="price-new" onClick={() => setEditing('new')}>
            {t('monitoring.prices.new')}
          </button>
        ) : undefined
      }
    >
      <p className="muted">{t('monitoring.prices.intro')}</p>
      {isAdmin && editing !== null && <PriceEditor key={editing === 'new' ? 'new' : editing.id} sheet={editing === 'new' ? null : editing} onDone={() => setEditing(null)} />}
      <section className="card card-flush">
        {prices.isPending && <Loading />}
        {prices.isError && <ErrorState error={prices.error} onRetry={() => void prices.refetch()} />}
        {prices.data && rows.length === 0 && <EmptyState title={t('monitoring.prices.empty')} testId="prices-empty" />}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="table table-dense" data-testid="prices-table">
              <thead>
                <tr>
                  <th scope="col">{t('monitoring.prices.name')}</th>
                  <th scope="col">{t('monitoring.prices.appliesTo')}</th>
                  <th scope="col" className="num">{t('monitoring.prices.cpuCoreHour')}</th>
                  <th scope="col" className="num">{t('monitoring.prices.memoryGibHour')}</th>
                  <th scope="col">{t('monitoring.prices.effectiveFrom')}</th>
                  {isAdmin && (
                    <th scope="col" className="actions-col">
                      <span className="visually-hidden">{t('monitoring.prices.actions')}</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {rows.map((p) => {
                  const cname = clusterName(p);
                  return (
                    <tr key={p.id} data-testid={`price-row-${p.name}`}>
                      <td>{p.name}</td>
                      <td className="small">{cname ? t('monitoring.prices.forCluster', { name: cname }) : t('monitoring.prices.forProvider', { provider: p.provider })}</td>
                      <td className="num small">{moneyText(p.cpu_core_hour, p.currency, i18n.language)}</td>
                      <td className="num small">{moneyText(p.memory_gib_hour, p.currency, i18n.language)}</td>
                      <td className="small nowrap">{p.effective_from}</td>
                      {isAdmin && (
                        <td className="actions-col">
                          <div className="row-actions">
                            <button type="button" className="btn btn-small" data-testid="price-edit" onClick={() => setEditing(p)}>
                              {t('monitoring.prices.editButton')}
                            </button>
                            <button type="button" className="btn btn-small btn-danger-outline" data-testid="price-delete" onClick={() => setDeleting(p)}>
                              {t('monitoring.prices.delete')}
                            </button>
                          </div>
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {deleting && (
        <ConfirmDialog
          title={t('monitoring.prices.deleteTitle', { name: deleting.name })}
          message={t('monitoring.prices.deleteMessage')}
          confirmLabel={t('monitoring.prices.delete')}
          busyLabel={t('monitoring.prices.deleting')}
          busy={remove.isPending}
          error={remove.error}
          onConfirm={() => remove.mutate(deleting.id, { onSuccess: () => setDeleting(null) })}
          onCancel={() => {
            remove.reset();
            setDeleting(null);
          }}
        />
      )}
    </MonitoringPage>
  );
}
