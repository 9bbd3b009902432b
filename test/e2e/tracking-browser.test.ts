import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { type Browser, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/client.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { rulesDir } from "../helpers/workspace.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";

/** What the test page (tracking-page/main.js) records of each request: its answer, or the page's error. */
interface Sent {
  url: string;
  status?: number;
  body?: string;
  error?: string;
}
interface Analytics {
  identify(id: string, traits: Record<string, unknown>): Promise<unknown>;
  group(id: string, traits: Record<string, unknown>): Promise<unknown>;
  track(event: string, properties: Record<string, unknown>): Promise<unknown>;
  page(): Promise<unknown>;
}
interface Tracking {
  tracking: {
    AnalyticsBrowser: { load(settings: unknown, options: unknown): Promise<[Analytics, unknown]> };
    sent: Sent[];
  };
}

const missing = !fs.existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set SIGNALTAG_CHROMIUM)`
  : undefined;
if (missing && process.env.CI === "true") throw new Error(`the browser tests need Chromium: ${missing}`);

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" } as const;

/** Serves the built page: a product's own origin, another port than signaltag's. */
function servePage(dir: string): http.Server {
  return http.createServer((req, res) => {
    const file = path.join(dir, path.normalize(req.url === "/" ? "/index.html" : (req.url ?? "/")));
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": types[path.extname(file) as keyof typeof types] ?? "application/octet-stream",
    });
    res.end(fs.readFileSync(file));
  });
}

const port = (server: http.Server | FastifyInstance["server"]) => (server.address() as AddressInfo).port;

describe.skipIf(missing !== undefined || backendUnavailable())(
  "Segment's browser library (analytics.js) on a product's page",
  () => {
    const t = useTestDatabase();
    let app: FastifyInstance;
    let pageServer: http.Server;
    let browser: Browser;
    let page: Page;
    let api = "";
    let site = "";
    let key = "";
    const built = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-tracking-page-"));

    beforeAll(async () => {
      // The library as a product bundles it from npm, so the test runs the published code.
      await build({
        root: path.resolve(import.meta.dirname, "tracking-page"),
        configFile: false,
        logLevel: "warn",
        build: { outDir: built, emptyOutDir: true },
      });
      app = await buildServer({
        database: t.database,
        config: loadConfig({ SIGNALTAG_RULES_DIR: rulesDir([]) }),
        logger: false,
      });
      await app.listen({ port: 0, host: "127.0.0.1" });
      api = `127.0.0.1:${port(app.server)}`;
      pageServer = servePage(built);
      await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
      // localhost, not 127.0.0.1: another site than signaltag's, as a product's page is.
      site = `http://localhost:${port(pageServer)}`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
      });
    });
    afterAll(async () => {
      await browser?.close();
      await app?.close();
      await new Promise((resolve) => pageServer?.close(resolve));
      fs.rmSync(built, { recursive: true, force: true });
    });
    beforeEach(async () => {
      await t.reset();
      await t.database.db.execute(sql`truncate ingest_waiting`);
      key = (await createApiKey(t.database.db, { name: "website", role: "ingest" })).key;
      await page?.close();
      page = await browser.newPage();
      await page.goto(`${site}/`);
    });

    const query = <T>(text: string) => rows<T>(t.database.db, sql.raw(text));
    const sent = () => page.evaluate(() => (globalThis as unknown as Tracking).tracking.sent);

    it("stores identify, group and track sent cross-origin as text/plain with the write key in the body", async () => {
      await page.evaluate(
        async ({ key, apiHost }) => {
          const { AnalyticsBrowser } = (globalThis as unknown as Tracking).tracking;
          const [analytics] = await AnalyticsBrowser.load(
            {
              writeKey: key,
              cdnSettings: { integrations: { "Segment.io": { apiKey: key, apiHost, protocol: "http" } } },
            },
            { disableClientPersistence: true },
          );
          await analytics.identify("ada", { email: "ada@acme.test", name: "Ada Lovelace", role: "owner" });
          await analytics.group("acme", { name: "Acme", plan: "pro" });
          await analytics.track("report viewed", { module: "reports" });
          await analytics.track("report viewed", { module: "reports" });
          await analytics.page();
        },
        { key, apiHost: `${api}/v1` },
      );
      await page.waitForFunction(() => (globalThis as unknown as Tracking).tracking.sent.length >= 5);

      // Every request was answered 200 and the page could read it: no CORS error, nothing to send again.
      const requests = await sent();
      expect(requests.map((r) => [new URL(r.url).pathname, r.status ?? r.error]).sort()).toEqual([
        ["/v1/g", 200],
        ["/v1/i", 200],
        ["/v1/p", 200],
        ["/v1/t", 200],
        ["/v1/t", 200],
      ]);
      expect(await query(`select id, account_id, email, name, attributes from users`)).toEqual([
        {
          id: "ada",
          account_id: "acme",
          email: "ada@acme.test",
          name: "Ada Lovelace",
          attributes: { role: "owner" },
        },
      ]);
      expect(await query(`select id, name, attributes from accounts`)).toEqual([
        { id: "acme", name: "Acme", attributes: { plan: "pro" } },
      ]);
      const events = await query<{ event_id: string; user_id: string; activity: string; module: string }>(
        `select event_id, user_id, account_id, activity, module from activity_events`,
      );
      expect(events).toHaveLength(2);
      for (const e of events) {
        expect(e).toMatchObject({
          user_id: "ada",
          account_id: "acme",
          activity: "report viewed",
          module: "reports",
        });
        expect(e.event_id).toMatch(/^ajs-/);
      }
      expect(
        await query(
          `select entity_type, entity_id, activity, module, count::int from activity_daily order by 1`,
        ),
      ).toEqual([
        { entity_type: "account", entity_id: "acme", activity: "report viewed", module: "reports", count: 2 },
        { entity_type: "user", entity_id: "ada", activity: "report viewed", module: "reports", count: 2 },
      ]);
    });

    it("lets the page read a refusal, and answers the preflight of a request with its own headers", async () => {
      const answers = await page.evaluate(
        async ({ key, base }) => {
          const post = async (url: string, init: RequestInit) => {
            const res = await fetch(`${base}${url}`, { method: "POST", ...init });
            return { status: res.status, body: await res.json() };
          };
          const track = { type: "track", userId: "ada", event: "export", messageId: "m1" };
          return [
            // A wrong write key: a 401 the page can read (a library must not send it again).
            await post("/v1/t", {
              headers: { "content-type": "text/plain" },
              body: JSON.stringify({ ...track, writeKey: "stk_not-a-key" }),
            }),
            // The batching strategy's shape: /v1/b, the write key in the body, and headers of the page's
            // own, which make the browser ask first (a preflight).
            await post("/v1/b", {
              headers: { "content-type": "text/plain", "x-product-build": "2026.12" },
              body: JSON.stringify({
                writeKey: key,
                batch: [
                  { type: "identify", userId: "ada", traits: { email: "ada@acme.test" }, messageId: "i1" },
                  {
                    type: "group",
                    userId: "ada",
                    groupId: "acme",
                    traits: { name: "Acme" },
                    messageId: "g1",
                  },
                  track,
                ],
                sentAt: new Date().toISOString(),
              }),
            }),
            // Basic auth and a JSON content type, as a hand-written client sends them: preflighted too.
            await post("/v1/batch", {
              headers: { "content-type": "application/json", authorization: `Basic ${btoa(`${key}:`)}` },
              body: JSON.stringify({ batch: [{ ...track, messageId: "m2" }] }),
            }),
          ];
        },
        { key, base: `http://${api}` },
      );
      expect(answers[0]).toMatchObject({ status: 401, body: { error: { code: "invalid_key" } } });
      expect(answers[1]).toEqual({ status: 200, body: { success: true } });
      expect(answers[2]).toEqual({ status: 200, body: { success: true } });
      expect(await query(`select event_id, user_id from activity_events order by event_id`)).toEqual([
        { event_id: "m1", user_id: "ada" },
        { event_id: "m2", user_id: "ada" },
      ]);
    });
  },
);
