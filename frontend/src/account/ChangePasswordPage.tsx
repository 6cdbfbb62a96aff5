/** /account/password: change one's own password (the current session stays logged in). */
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../api/client';
import type { ApiError } from '../api/errors';
import type { ChangePasswordBody } from '../api/types';
import { FormField } from '../components/FormField';
import { apiErrorText } from '../lib/messages';

export function ChangePasswordPage() {
  const { t } = useTranslation();
  const change = useMutation<void, ApiError, ChangePasswordBody>({
    mutationFn: async (body) => {
      unwrap(await api.POST('/api/auth/password/', { body }));
    },
  });
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const mismatch = confirm !== '' && confirm !== password;
  const err = (f: string) => change.error?.forField(f) ?? [];
  const placed = change.error && Object.keys(change.error.fieldErrors).some((f) => f === 'current_password' || f === 'password');

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (mismatch) return;
    change.mutate(
      { current_password: current, password },
      {
        onSuccess: () => {
          setCurrent('');
          setPassword('');
          setConfirm('');
        },
      },
    );
  };

  return (
    <section className="page" data-testid="password-page">
      <header className="page-header">
        <h1>{t('password.title')}</h1>
        <p className="muted">{t('password.intro')}</p>
      </header>
      <form className="card form-stack narrow" onSubmit={onSubmit} data-testid="password-form">
        {change.isSuccess && (
          <p className="alert alert-success" role="status" data-testid="password-changed">
            {t('password.done')}
          </p>
        )}
        {change.error && !placed && (
          <p className="alert alert-error" role="alert" data-testid="password-error">
            {apiErrorText(t, change.error)}
          </p>
        )}
        <FormField label={t('password.current')} errors={err('current_password')}>
          <input name="current_password" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
        </FormField>
        <FormField label={t('password.new')} errors={err('password')}>
          <input name="password" type="password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </FormField>
        <FormField label={t('password.confirm')} errors={mismatch ? [t('password.mismatch')] : []}>
          <input name="password_confirm" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        </FormField>
        <div>
          <button type="submit" className="btn btn-primary" disabled={change.isPending || !current || !password || mismatch}>
            {change.isPending ? t('common.saving') : t('password.submit')}
          </button>
        </div>
      </form>
    </section>
  );
}
