/*
 * How the browser tests and the console benchmark (bench/console.ts) start
 * Chromium. No test framework here, so a benchmark script can import it.
 */

export const CHROMIUM = process.env.SIGNALTAG_CHROMIUM ?? "/usr/bin/chromium";
/** Headless Chromium run as root (no sandbox) that opens no connections of its own: the browser tests run offline. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];
