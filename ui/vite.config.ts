import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built into dist/ui (gitignored) and served by dcplane's HTTP server at / (src/http/ui-static.ts).
const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npx vite --config ui/vite.config.ts` against a dcplane on 8080 while working on the UI.
    proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
