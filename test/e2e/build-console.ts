import path from "node:path";
import { build } from "vite";

/** The browser tests drive the console as built from this checkout's web/ source, never a stale build. */
export default async function setup(): Promise<void> {
  await build({
    configFile: path.resolve(import.meta.dirname, "../../web/vite.config.ts"),
    logLevel: "warn",
  });
}
