import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// The build goes straight into the Go package that embeds it
// (cmd/opencloud/webapp/dist): `make web` then `go build` serve it at /.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: '../cmd/opencloud/webapp/dist',
    emptyOutDir: true,
    // Scripts come from files only: the gateway's Content-Security-Policy
    // forbids inline ones.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 700,
  },
  server: {
    // `npm run dev` against a peer on :8000 (make run).
    proxy: Object.fromEntries(
      ['/auth', '/catalog', '/workspace', '/workflow', '/scheduler', '/schedulerd', '/datacenter', '/peer'].map((p) => [
        p,
        { target: 'http://localhost:8000', changeOrigin: false },
      ]),
    ),
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
})
