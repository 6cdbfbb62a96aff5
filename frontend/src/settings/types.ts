/** GET /api/admin/settings/ (docs/settings.md); hand-written until the schema is regenerated. */
export type SettingValue = string | number | boolean | null | SettingValue[] | { [key: string]: SettingValue };

export interface SettingEntry {
  key: string;
  value: SettingValue;
  default: SettingValue;
  is_default: boolean;
  env: string | null;
  from_env: boolean;
  unit: 'seconds' | 'hours' | 'days' | 'bytes' | 'per_second' | null;
  secret: boolean;
}

export interface SettingsSection {
  key: string;
  entries: SettingEntry[];
}

export interface EffectiveSettings {
  generated_at: string;
  environment: string;
  version: string;
  sections: SettingsSection[];
}
