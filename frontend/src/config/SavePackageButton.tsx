/**
 * "Save as package" on the service map page (grant `workloads.deploy`): name, version and
 * description → `POST /api/catalog/servicemaps/<sm>/package/` → a link to the package in the
 * catalog ("My catalog", source `saved`). 409: that name and version exist.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { Dialog } from '../components/Dialog';
import { FormField } from '../components/FormField';
import { ApiAlert, fieldErrors } from './common';
import { usePageAccess, useSavePackage } from './queries';

export function SavePackageButton({ serviceMap }: { serviceMap: { id: number; namespace: string; workspace: { id: number } } }) {
  const { t } = useTranslation();
  const access = usePageAccess(serviceMap.workspace.id);
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: serviceMap.namespace.toLowerCase(), version: '0.1.0', description: '' });
  const save = useSavePackage(serviceMap.id);
  if (!access.can('workloads.deploy')) return null;
  const close = () => {
    setOpen(false);
    save.reset();
  };
  const submit = () => save.mutate({ name: form.name.trim(), version: form.version.trim(), description: form.description });
  return (
    <>
      <button type="button" className="btn btn-small" data-testid="save-as-package" onClick={() => setOpen(true)}>
        {t('config.savePackage.button')}
      </button>
      {open && (
        <Dialog
          title={t('config.savePackage.title')}
          onClose={close}
          testId="save-package-dialog"
          footer={
            save.isSuccess ? (
              <button type="button" className="btn" onClick={close}>
                {t('common.close')}
              </button>
            ) : (
              <>
                <button type="button" className="btn" onClick={close}>
                  {t('common.cancel')}
                </button>
                <button type="button" className="btn btn-primary" data-testid="save-package-submit" disabled={save.isPending || !form.name.trim() || !form.version.trim()} onClick={submit}>
                  {save.isPending ? t('common.saving') : t('config.savePackage.submit')}
                </button>
              </>
            )
          }
        >
          {save.isSuccess ? (
            <p className="alert alert-success" role="status" data-testid="save-package-done">
              {t('config.savePackage.done', { name: form.name.trim(), version: form.version.trim() })}{' '}
              <Link to={`/catalog/packages/${save.data.package}`} data-testid="saved-package-link" onClick={close}>
                {t('config.savePackage.open')}
              </Link>
            </p>
          ) : (
            <form
              className="form-stack"
              onSubmit={(e) => {
                e.preventDefault();
                submit();
              }}
            >
              <p className="small muted">{t('config.savePackage.intro')}</p>
              <ApiAlert error={save.error} testId="save-package-error" skipFields={['name', 'version', 'description']} />
              <FormField label={t('config.savePackage.name')} errors={fieldErrors(save.error, 'name')}>
                <input name="name" className="mono" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
              </FormField>
              <FormField label={t('config.savePackage.version')} errors={fieldErrors(save.error, 'version')}>
                <input name="version" className="mono" value={form.version} onChange={(e) => setForm({ ...form, version: e.target.value })} />
              </FormField>
              <FormField label={t('config.savePackage.description')} errors={fieldErrors(save.error, 'description')}>
                <textarea name="description" rows={2} value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
              </FormField>
            </form>
          )}
        </Dialog>
      )}
    </>
  );
}
