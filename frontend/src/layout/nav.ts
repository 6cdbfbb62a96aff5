/** The product's sections, in navigation order. `testId` is nav-<key>. */
export interface NavItem {
  key: 'dashboard' | 'clusters' | 'workspaces' | 'servicemaps' | 'catalog' | 'builds' | 'registries' | 'monitoring' | 'alerts';
  path: string;
  icon: string;
}

export const NAV_ITEMS: readonly NavItem[] = [
  { key: 'dashboard', path: '/', icon: '▦' },
  { key: 'clusters', path: '/clusters', icon: '⬡' },
  { key: 'workspaces', path: '/workspaces', icon: '▣' },
  { key: 'servicemaps', path: '/servicemaps', icon: '⌘' },
  { key: 'catalog', path: '/catalog', icon: '☰' },
  { key: 'builds', path: '/builds', icon: '⚒' },
  { key: 'registries', path: '/registries', icon: '⛁' },
  { key: 'monitoring', path: '/monitoring', icon: '◔' },
  { key: 'alerts', path: '/alerts', icon: '⚑' },
];
