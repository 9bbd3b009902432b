import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into web/dist, which `signaltag serve` serves at / (src/api/routes/console.ts).
// Everything is bundled: the console loads nothing from the network but its own API.
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 800 },
  server: { proxy: { "/v1": "http://127.0.0.1:3000", "/health": "http://127.0.0.1:3000" } },
});
