// Builds the UI into flowy_ui's package data (../src/flowy_ui/static/), which the
// wheel ships and the server serves: index.html for every non-API path, the hashed
// files under /assets/. `npm run dev` proxies the API to a running `flowy ui`
// (FLOWY_UI_URL, default http://127.0.0.1:8765, the port `flowy ui` uses).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const api = process.env.FLOWY_UI_URL ?? "http://127.0.0.1:8765";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/flowy_ui/static",
    emptyOutDir: true,
    assetsDir: "assets",
    // Modern browsers only: no polyfill is injected, so nothing inline is needed.
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs (the CSP is default-src 'self').
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: { "/api": api, "/healthz": api },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
  },
});
