/**
 * The whole translation trees. The core strings live in en.json / ko.json; a section that grows on its
 * own (builds, registries, monitoring, alerts, and issue 20's dashboards, table, admin, inventory,
 * lists, a11y) keeps its strings in its own pair of files, merged here under its key, so the two
 * languages of one feature sit side by side and features do not edit one file.
 *
 * The console itself does not import this module (it would put both languages in the first
 * download): it loads one language in sections (sections.ts, loaders.ts, index.ts). These trees are
 * for the tests and for the type of `t()` keys (i18next.d.ts); i18n.test.ts checks that the sections
 * add up to them. A new per-feature file: add it here and to NAMESPACE_FILES in sections.ts.
 */
import enBase from './en.json';
import koBase from './ko.json';
import enBuilds from './builds.en.json';
import koBuilds from './builds.ko.json';
import enRegistries from './registries.en.json';
import koRegistries from './registries.ko.json';
import enMonitoring from './monitoring.en.json';
import koMonitoring from './monitoring.ko.json';
import enAlerts from './alerts.en.json';
import koAlerts from './alerts.ko.json';
import enDashboard from './dashboard.en.json';
import koDashboard from './dashboard.ko.json';
import enTable from './table.en.json';
import koTable from './table.ko.json';
import enAdmin from './admin.en.json';
import koAdmin from './admin.ko.json';
import enInventory from './inventory.en.json';
import koInventory from './inventory.ko.json';
import enLists from './lists.en.json';
import koLists from './lists.ko.json';
import enA11y from './a11y.en.json';
import koA11y from './a11y.ko.json';
import enProvisioning from './provisioning.en.json';
import koProvisioning from './provisioning.ko.json';
import enMoves from './moves.en.json';
import koMoves from './moves.ko.json';

export const en = { ...enBase, builds: enBuilds, registries: enRegistries, monitoring: enMonitoring, alerts: enAlerts,
  dashboards: enDashboard, table: enTable, admin: enAdmin,
  inventory: enInventory, lists: enLists, a11y: enA11y, provisioning: enProvisioning, moves: enMoves };
export const ko = { ...koBase, builds: koBuilds, registries: koRegistries, monitoring: koMonitoring, alerts: koAlerts,
  dashboards: koDashboard, table: koTable, admin: koAdmin,
  inventory: koInventory, lists: koLists, a11y: koA11y, provisioning: koProvisioning, moves: koMoves };
