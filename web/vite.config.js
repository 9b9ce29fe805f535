// Builds the page into crates/server/web/ with fixed file names, which the server embeds.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "../crates/server/web",
    emptyOutDir: true,
    assetsDir: "",
    rollupOptions: {
      output: {
        entryFileNames: "app.js",
        assetFileNames: "app.[ext]",
        chunkFileNames: "app-[name].js",
      },
    },
  },
});
