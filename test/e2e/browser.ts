import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { loadConfig } from "../../src/config.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";

export const SCREENSHOTS = path.resolve(import.meta.dirname, "screenshots");

export interface Console {
  readonly app: FastifyInstance;
  readonly url: string;
  /** A new tab (its own session storage) at 1280×800, or the given size. */
  page(size?: { width: number; height: number }): Promise<Page>;
  /** Signs in on the console's sign-in page with the key and waits for the signed-in header. */
  signIn(page: Page, key: string): Promise<void>;
  shot(page: Page, name: string): Promise<void>;
}

/**
 * The real server (what `signaltag serve` runs) listening on a free port over
 * the test's database, serving the built console, and one headless Chromium.
 */
export function useConsole(t: TestDatabase, env: Record<string, string> = {}): Console {
  let app: FastifyInstance | undefined;
  let browser: BrowserContext | undefined;
  let url = "";
  let profile = "";
  const pages: Page[] = [];
  beforeAll(async () => {
    app = await buildServer({ database: t.database, config: loadConfig({ ...env }), logger: false });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    if (!address || typeof address === "string") throw new Error("the server has no TCP address");
    url = `http://127.0.0.1:${address.port}`;
    profile = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-e2e-"));
    // A fresh profile directory; each page (tab) has its own session storage, so its own sign-in.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: CHROMIUM_ARGS,
    });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    for (const p of pages) await p.close();
    await browser?.close();
    await app?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });
  return {
    get app() {
      if (!app) throw new Error("server used outside a test");
      return app;
    },
    get url() {
      return url;
    },
    async page(size = { width: 1280, height: 800 }) {
      if (!browser) throw new Error("browser used outside a test");
      const page = await browser.newPage();
      pages.push(page);
      await page.setViewportSize(size);
      await page.goto(`${url}/`);
      return page;
    },
    async signIn(page, key) {
      await page.getByLabel("API key").fill(key);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
    },
    async shot(page, name) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false });
    },
  };
}
