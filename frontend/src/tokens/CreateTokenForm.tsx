import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiTokenCreated } from '../api/types';
import { FormField } from '../components/FormField';
import { useCreateToken } from './queries';
import { apiErrorText } from '../lib/messages';

export const EXPIRY_CHOICES = ['7', '30', '90', '365', 'never'] as const;
type Expiry = (typeof EXPIRY_CHOICES)[number];

export function CreateTokenForm({ onCreated }: { onCreated: (token: ApiTokenCreated) => void }) {
  const { t } = useTranslation();
  const create = useCreateToken();
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState<Expiry>('90');
  const error = create.error;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      { name: name.trim(), expires_in_days: expiry === 'never' ? null : Number(expiry) },
      {
        onSuccess: (token) => {
          setName('');
          onCreated(token);
        },
      },
    );
  };

  const nameErrors = error?.forField('name') ?? [];
  const expiryErrors = error?.forField('expires_in_days') ?? [];
  const hasFieldErrors = nameErrors.length > 0 || expiryErrors.length > 0;

  return (
    <form className="card form-inline" onSubmit={onSubmit} aria-labelledby="create-token-title" data-testid="create-token-form">
      <h2 id="create-token-title" className="card-title">
        {t('tokens.create.title')}
      </h2>
      {error && !hasFieldErrors && (
        <div className="alert alert-error" role="alert">
          {apiErrorText(t, error)}
        </div>
      )}
      <div className="form-row">
        <FormField label={t('tokens.create.name')} errors={nameErrors}>
          <input
            name="name"
            required
            maxLength={100}
            placeholder={t('tokens.create.namePlaceholder')}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </FormField>
        <FormField label={t('tokens.create.expiry')} errors={expiryErrors}>
          <select
            name="expires_in_days"
            value={expiry}
            onChange={(e) => {
              const value = EXPIRY_CHOICES.find((c) => c === e.target.value);
              if (value) setExpiry(value);
            }}
          >
            {EXPIRY_CHOICES.map((choice) => (
              <option key={choice} value={choice}>
                {choice === 'never' ? t('tokens.create.never') : t('tokens.create.days', { count: Number(choice) })}
              </option>
            ))}
          </select>
        </FormField>
        <button type="submit" className="btn btn-primary" disabled={create.isPending || !name.trim()}>
          {create.isPending ? t('tokens.create.submitting') : t('tokens.create.submit')}
        </button>
      </div>
    </form>
  );
}
