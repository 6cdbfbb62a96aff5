/**
 * The translation trees. The core strings live in en.json / ko.json; a section that grows on its
 * own (builds, registries, monitoring, alerts) keeps its strings in its own pair of files, merged here under its key,
 * so the two languages of one feature sit side by side and features do not edit one file.
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

export const en = { ...enBase, builds: enBuilds, registries: enRegistries, monitoring: enMonitoring, alerts: enAlerts };
export const ko = { ...koBase, builds: koBuilds, registries: koRegistries, monitoring: koMonitoring, alerts: koAlerts };
