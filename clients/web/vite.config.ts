// Vite builds the app into dist/, which the Go package web embeds.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// keepPlaceholder restores dist/.gitkeep after vite empties dist, so the
// committed placeholder that lets the Go package compile on a fresh clone
// does not show up as deleted.
function keepPlaceholder(): Plugin {
  let outDir = '';
  return {
    name: 'bedside-keep-dist-placeholder',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      writeFileSync(resolve(outDir, '.gitkeep'), '');
    },
  };
}

export default defineConfig({
  plugins: [keepPlaceholder()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // The polyfill is not needed by current browsers and the strict CSP
    // makes every script an external file anyway.
    modulePreload: { polyfill: false },
    // Keep small files as files: data: URLs for scripts would break the CSP.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // `npm run dev` forwards the API and the WebSocket to a local
    // `bedside serve` on the default address.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
});
