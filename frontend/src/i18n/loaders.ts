/**
 * Loads one section of one language's strings: a chunk of its own (vite.config.ts cuts en.json and
 * ko.json per CORE_SECTIONS key; each per-feature file `<file>.<lang>.json` is already one).
 * index.ts decides what to load when; this module only knows where each piece is.
 */
import { core } from 'virtual:i18n/core';
import { CORE_SECTIONS, NAMESPACE_FILES, type Language, type Namespace, type Section } from './sections';

export type Tree = { [key: string]: string | Tree };

// One lazy loader per per-feature file: ./builds.en.json → () => import('./builds.en.json').
const files = import.meta.glob<Tree>('./*.*.json', { import: 'default' });

export const NAMESPACES = Object.keys(NAMESPACE_FILES) as Namespace[];
export const SECTIONS: readonly Section[] = ['base', ...CORE_SECTIONS, ...NAMESPACES];

function isNamespace(section: string): section is Namespace {
  return Object.prototype.hasOwnProperty.call(NAMESPACE_FILES, section);
}

/** The section a key belongs to (`codes.not_found` → codes, `nav.clusters` → base). */
export function sectionOf(key: string): Section {
  const head = key.split('.', 1)[0] ?? '';
  return isNamespace(head) || (CORE_SECTIONS as readonly string[]).includes(head) ? (head as Section) : 'base';
}

/** The subtree to merge into the `translation` namespace: `{clusters: {...}}`, or the base keys. */
export async function loadSection(lang: Language, section: Section): Promise<Tree> {
  if (isNamespace(section)) {
    const load = files[`./${NAMESPACE_FILES[section]}.${lang}.json`];
    if (!load) throw new Error(`i18n: no file ${NAMESPACE_FILES[section]}.${lang}.json`);
    return { [section]: await load() };
  }
  const load = core[lang][section];
  if (!load) throw new Error(`i18n: no section ${section} in ${lang}.json`);
  const tree = (await load()).default as Tree;
  return section === 'base' ? tree : { [section]: tree };
}
