import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The bundle goes where the api crate embeds it (committed: `cargo build`
// needs no Node). File names carry content hashes, so the build is
// reproducible: CI rebuilds it and fails when it differs from the commit.
export default defineConfig({
  // GraphiQL (graphiql.html) runs on React itself: no react -> preact alias.
  plugins: [preact({ prerender: { enabled: false }, reactAliasesEnabled: false })],
  build: {
    outDir: '../api/console-dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    rollupOptions: {
      input: { main: 'index.html', graphiql: 'graphiql.html' },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/graphql': 'http://127.0.0.1:8080' },
  },
  test: { include: ['src/**/*.test.ts'] },
});
