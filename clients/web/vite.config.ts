// Vite builds the app into dist/, which the Go package web embeds.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin, type Rollup } from 'vite';

type RollupLog = Rollup.RollupLog;

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

// isHpkeAnnotationWarning matches Rollup's note that @hpke/common has
// /* @__PURE__ */ comments in places where they have no effect (inside
// commented-out code and before expressions that are not calls). Rollup drops
// those comments and the output is the same; any other warning is shown.
function isHpkeAnnotationWarning(w: RollupLog): boolean {
  return w.code === 'INVALID_ANNOTATION' && /[\\/]node_modules[\\/]@hpke[\\/]/.test(w.id ?? '');
}

export default defineConfig(({ command }) => ({
  plugins: [keepPlaceholder()],
  resolve: {
    // @hpke/common falls back to Node's "crypto" module where Web Crypto
    // is missing. In the browser build, resolve that import to Web Crypto
    // instead of Vite's empty stand-in, which warns on every build.
    alias: command === 'build' ? [{ find: /^crypto$/, replacement: resolve(__dirname, 'src/shims/node-crypto.ts') }] : [],
  },
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
    rollupOptions: {
      onwarn(warning, warn) {
        if (!isHpkeAnnotationWarning(warning)) warn(warning);
      },
    },
  },
  server: {
    // `npm run dev` forwards the API and the WebSocket to a local
    // `bedside serve` on the default address.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
}));
