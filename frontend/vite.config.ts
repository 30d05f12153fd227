import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Runtime configuration lives in public/config.js (window.__GRADES_CONFIG__), never in import.meta.env,
// so one build serves every environment.
export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 900,
  },
  server: { port: 5173 },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
