/**
 * /catalog/packages/:id — one package: its versions (`?version=` picks one, newest by default),
 * the chart's readme (plain text), default values, a values form, and "objects it will create":
 * POST /versions/<id>/render/ for a chosen service map. Deploying opens the wizard.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { ErrorState } from '../components/ErrorState';
import { FormField } from '../components/FormField';
import { Loading } from '../components/Loading';
import { NotFound } from '../pages/NotFound';
import { useAllServiceMaps } from '../workspaces/queries';
import { PackageIcon, Readme } from './common';
import { usePackage, useRender, useVersion } from './queries';
import type { PackageDetail, Values, Version } from './types';
import { ValuesForm } from './ValuesForm';
import { apiErrorText } from '../lib/messages';

export function PackageHeader({ pkg, children }: { pkg: PackageDetail; children?: React.ReactNode }) {
  const { t } = useTranslation();
  const home = /^https?:\/\//i.test(pkg.home) ? pkg.home : '';
  return (
    <section className="card cluster-header" data-testid="package-header">
      <div className="cluster-title">
        <div className="pkg-card-head">
          <PackageIcon icon={pkg.icon} name={pkg.name} />
          <div>
            <h1 className="mono">{pkg.name}</h1>
            <p className="muted small">
              {pkg.workspace ? t('catalog.card.workspace', { name: pkg.workspace.name }) : t('catalog.scope.shared')} ·{' '}
              {t('catalog.card.source', { name: pkg.source.name })}
              {home && (
                <>
                  {' · '}
                  <a href={home} target="_blank" rel="noopener noreferrer nofollow">
                    {t('catalog.package.home')}
                  </a>
                </>
              )}
            </p>
          </div>
        </div>
        {children && <div className="header-actions">{children}</div>}
      </div>
      {pkg.description && <p>{pkg.description}</p>}
      {pkg.keywords.length > 0 && (
        <div className="chips">
          {pkg.keywords.map((k) => (
            <span key={k} className="chip">
              {k}
            </span>
          ))}
        </div>
      )}
    </section>
  );
}

function RenderPreview({ pkg, version, values }: { pkg: PackageDetail; version: Version; values: Values }) {
  const { t } = useTranslation();
  const maps = useAllServiceMaps(pkg.workspace ? { workspace: pkg.workspace.id } : {});
  const [sm, setSm] = useState('');
  const render = useRender(version.id);
  const rows = maps.data?.results ?? [];
  return (
    <section className="card" data-testid="render-preview">
      <h2 className="card-title">{t('catalog.package.objects')}</h2>
      <p className="small muted">{t('catalog.package.objectsHint')}</p>
      <div className="form-row">
        <FormField label={t('catalog.deploy.serviceMap')}>
          <select name="service_map" data-testid="render-servicemap" value={sm} onChange={(e) => setSm(e.target.value)}>
            <option value="">—</option>
            {rows.map((m) => (
              <option key={m.id} value={String(m.id)}>
                {m.workspace.name} / {m.cluster.name} / {m.namespace}
              </option>
            ))}
          </select>
        </FormField>
        <button
          type="button"
          className="btn"
          data-testid="render-submit"
          disabled={!sm || render.isPending}
          onClick={() => render.mutate({ values, service_map: Number(sm) })}
        >
          {render.isPending ? t('catalog.package.rendering') : t('catalog.package.render')}
        </button>
      </div>
      {render.error && (
        <div className="alert alert-error" role="alert" data-testid="render-error">
          <div>
            {apiErrorText(t, render.error)}
            {Object.entries(render.error.fieldErrors).map(([k, m]) => (
              <div key={k}>
                {k}: {m.join(' ')}
              </div>
            ))}
          </div>
        </div>
      )}
      {render.data && (
        <table className="table table-dense" data-testid="render-objects">
          <thead>
            <tr>
              <th scope="col">{t('catalog.col.kind')}</th>
              <th scope="col">{t('catalog.col.name')}</th>
              <th scope="col">apiVersion</th>
            </tr>
          </thead>
          <tbody>
            {render.data.objects.map((o) => (
              <tr key={`${o.kind}/${o.name}`} data-testid={`render-object-${o.kind}-${o.name}`}>
                <td>{o.kind}</td>
                <td className="mono">{o.name}</td>
                <td className="mono small">{o.apiVersion}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function VersionPanel({ pkg, version }: { pkg: PackageDetail; version: Version }) {
  const { t } = useTranslation();
  const [values, setValues] = useState<Values>({});
  return (
    <>
      {(version.lookup_templates?.length ?? 0) > 0 && (
        <div className="alert alert-warning" role="note" data-testid="lookup-warning">
          <strong>{t('catalog.package.lookupTitle')}</strong>{' '}
          {t('catalog.package.lookupBody', { templates: version.lookup_templates.join(', ') })}
        </div>
      )}
      <section className="card" data-testid="version-panel" data-version={version.version}>
        <h2 className="card-title">{t('catalog.package.readme')}</h2>
        <Readme text={version.readme} />
      </section>
      <section className="card">
        <h2 className="card-title">{t('catalog.package.defaults')}</h2>
        <pre className="code-block" data-testid="package-defaults">
          {version.values_yaml || '# —'}
        </pre>
      </section>
      <section className="card">
        <h2 className="card-title">{t('catalog.package.values')}</h2>
        <ValuesForm key={version.id} fields={version.form} values={values} onChange={setValues} errors={{}} />
      </section>
      <RenderPreview pkg={pkg} version={version} values={values} />
    </>
  );
}

export function PackagePage() {
  const { t } = useTranslation();
  const id = Number(useParams().id);
  const [params, setParams] = useSearchParams();
  const pkg = usePackage(id);
  const versions = pkg.data?.versions ?? [];
  const chosen = versions.find((v) => String(v.id) === params.get('version')) ?? versions[0];
  const version = useVersion(chosen?.id ?? null);
  if (!Number.isInteger(id) || (pkg.error instanceof ApiError && pkg.error.status === 404)) return <NotFound />;
  return (
    <section className="page page-wide" data-testid="package-page">
      <p className="muted small breadcrumbs">
        <Link to="/catalog">{t('nav.catalog')}</Link> / {pkg.data?.name ?? id}
      </p>
      {pkg.isPending && <Loading />}
      {pkg.isError && <ErrorState error={pkg.error} onRetry={() => void pkg.refetch()} />}
      {pkg.data && (
        <PackageHeader pkg={pkg.data}>
          {chosen && (
            <Link className="btn btn-primary" data-testid="deploy-package" to={`/catalog/packages/${id}/deploy?version=${chosen.id}`}>
              {t('catalog.package.deploy')}
            </Link>
          )}
        </PackageHeader>
      )}
      {pkg.data && (
        <section className="card">
          <h2 className="card-title">{t('catalog.package.versions')}</h2>
          {versions.length === 0 ? (
            <p className="muted">{t('catalog.card.noVersion')}</p>
          ) : (
            <table className="table table-dense" data-testid="versions-table">
              <thead>
                <tr>
                  <th scope="col">{t('catalog.col.version')}</th>
                  <th scope="col">{t('catalog.col.appVersion')}</th>
                  <th scope="col">{t('catalog.col.created')}</th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.id} data-testid={`version-row-${v.version}`} className={v.id === chosen?.id ? 'row-flagged' : undefined}>
                    <td>
                      <button type="button" className="btn btn-small" aria-pressed={v.id === chosen?.id} onClick={() => setParams({ version: String(v.id) }, { replace: true })}>
                        {v.version}
                      </button>
                    </td>
                    <td className="mono small">{v.app_version || '—'}</td>
                    <td className="small">{new Date(v.created).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      {version.isPending && chosen && <Loading />}
      {version.isError && <ErrorState error={version.error} onRetry={() => void version.refetch()} />}
      {pkg.data && version.data && <VersionPanel key={version.data.id} pkg={pkg.data} version={version.data} />}
    </section>
  );
}
