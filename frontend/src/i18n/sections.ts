/**
 * How the translation trees are cut into pieces that load on their own (issue 20, code splitting):
 * the console downloads only the active language's strings, and a section's strings with the
 * chunk that shows them.
 *
 * Pure data, shared by `vite.config.ts` (whose `i18nSections` plugin cuts en.json / ko.json into
 * one module per CORE_SECTIONS key plus `base`, everything else) and `loaders.ts` (which loads
 * them at run time). `resources.ts` keeps the whole trees for the tests and the `t()` key types.
 */

/** Top-level keys of en.json / ko.json that load on their own; every other key is in `base`. */
export const CORE_SECTIONS = [
  'codes',
  'clusters',
  'catalog',
  'workspaces',
  'objects',
  'identity',
  'audit',
  'config',
  'timeline',
  'strategy',
  'users',
  'tokens',
  'terminal',
  'logs',
] as const;

/** The per-feature files `<file>.<lang>.json` and the key each is merged under. */
export const NAMESPACE_FILES = {
  builds: 'builds',
  registries: 'registries',
  monitoring: 'monitoring',
  alerts: 'alerts',
  dashboards: 'dashboard',
  table: 'table',
  admin: 'admin',
  inventory: 'inventory',
  lists: 'lists',
  a11y: 'a11y',
  provisioning: 'provisioning',
  moves: 'moves',
} as const;

export type CoreSection = (typeof CORE_SECTIONS)[number];
export type Namespace = keyof typeof NAMESPACE_FILES;
/** A piece of the tree that loads at once: `base` (the small core keys), a core section or a namespace. */
export type Section = 'base' | CoreSection | Namespace;

export const LANGUAGES = ['ko', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
