import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { AppRoutes } from './App';
import { loadDeferred } from './i18n';
import { initTheme } from './lib/theme';
import { Providers } from './Providers';
import { createQueryClient } from './lib/queryClient';
import './styles.css';

// The stored light/dark choice before the first paint (the login page included).
initTheme();

const container = document.getElementById('root');
if (!container) throw new Error('#root element missing from index.html');

createRoot(container).render(
  <StrictMode>
    <Providers queryClient={createQueryClient()}>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </Providers>
  </StrictMode>,
);

// The server-message translations (i18n/index.ts DEFERRED) once the first page had its turn: they
// must not compete with the page's own chunk for the first paint.
const later = (run: () => void) =>
  typeof window.requestIdleCallback === 'function' ? window.requestIdleCallback(run, { timeout: 1500 }) : window.setTimeout(run, 200);
later(() => void loadDeferred().catch(() => undefined));
