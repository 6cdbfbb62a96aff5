/** The translation modules the `portal-i18n-sections` plugin in vite.config.ts generates. */
declare module 'virtual:i18n/core' {
  type Tree = Record<string, unknown>;
  /** `core[lang][section]()`: `base` (the small keys of <lang>.json) or one of CORE_SECTIONS. */
  export const core: Record<'en' | 'ko', Record<string, () => Promise<{ default: Tree }>>>;
}
