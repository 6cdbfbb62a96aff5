/**
 * The settings each provider kind has (docs/sso.md), with the defaults the server applies, so
 * the form shows one field per key and sends `config` in the shape the server stores.
 */
import type { ProviderConfig, ProviderKind } from './types';

export type FieldType = 'text' | 'list' | 'bool' | 'pem';

export type ConfigKey =
  | 'issuer'
  | 'client_id'
  | 'scopes'
  | 'username_claim'
  | 'groups_claim'
  | 'ca_pem'
  | 'server_uri'
  | 'start_tls'
  | 'bind_dn'
  | 'user_search_base'
  | 'user_filter'
  | 'username_attr'
  | 'email_attr'
  | 'display_name_attr'
  | 'group_search_base'
  | 'group_filter'
  | 'nested_groups';

export interface ConfigField {
  key: ConfigKey;
  type: FieldType;
  default?: string | boolean | string[];
  required?: boolean;
}

export const CONFIG_FIELDS: Record<ProviderKind, readonly ConfigField[]> = {
  oidc: [
    { key: 'issuer', type: 'text', required: true },
    { key: 'client_id', type: 'text', required: true },
    { key: 'scopes', type: 'list', default: ['openid', 'profile', 'email', 'groups'] },
    { key: 'username_claim', type: 'text', default: 'preferred_username' },
    { key: 'groups_claim', type: 'text', default: 'groups' },
    { key: 'ca_pem', type: 'pem' },
  ],
  ldap: [
    { key: 'server_uri', type: 'text', required: true },
    { key: 'start_tls', type: 'bool', default: false },
    { key: 'ca_pem', type: 'pem' },
    { key: 'bind_dn', type: 'text' },
    { key: 'user_search_base', type: 'text', required: true },
    { key: 'user_filter', type: 'text', default: '(uid={username})' },
    { key: 'username_attr', type: 'text', default: 'uid' },
    { key: 'email_attr', type: 'text', default: 'mail' },
    { key: 'display_name_attr', type: 'text', default: 'cn' },
    { key: 'group_search_base', type: 'text' },
    { key: 'group_filter', type: 'text', default: '(member={user_dn})' },
    { key: 'nested_groups', type: 'bool', default: false },
  ],
};

/** Form state: every value a string (lists space-separated) or a boolean. */
export type ConfigForm = Record<string, string | boolean>;

export function configToForm(kind: ProviderKind, config: ProviderConfig): ConfigForm {
  const form: ConfigForm = {};
  for (const field of CONFIG_FIELDS[kind]) {
    const value = config[field.key] ?? field.default;
    if (field.type === 'bool') form[field.key] = value === true;
    else if (field.type === 'list') form[field.key] = Array.isArray(value) ? value.map(String).join(' ') : typeof value === 'string' ? value : '';
    else form[field.key] = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  }
  return form;
}

/** The config to send: lists split on spaces/commas; see below for emptied fields. */
export function formToConfig(kind: ProviderKind, form: ConfigForm): ProviderConfig {
  const config: ProviderConfig = {};
  for (const field of CONFIG_FIELDS[kind]) {
    const value = form[field.key];
    if (field.type === 'bool') config[field.key] = value === true;
    else if (field.type === 'list') {
      const items = String(value ?? '').split(/[\s,]+/).filter(Boolean);
      if (items.length > 0) config[field.key] = items;
    } else {
      const trimmed = String(value ?? '').trim();
      // Emptied: a key with a server default is left out (the default applies); any other is
      // sent as "" so a value stored before (a CA, a bind DN) is removed, not kept.
      if (trimmed) config[field.key] = field.type === 'pem' ? `${trimmed}\n` : trimmed;
      else if (field.default === undefined) config[field.key] = '';
    }
  }
  return config;
}
