import '@fontsource-variable/inter/wght.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { currentEndpoints } from './lib/config';
import { RealtimeProvider } from './realtime';
import './styles.css';

// Read at runtime from /config.js (window.__GRADES_CONFIG__), never at build time.
const endpoints = currentEndpoints();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <RealtimeProvider endpoints={endpoints}>
      <App />
    </RealtimeProvider>
  </StrictMode>,
);
