/**
 * The web console's reads at scale: search while typing, a profile page's
 * requests, and a segment builder's first page, timed against the server
 * (in this process, over loopback HTTP) on an existing workspace, plus with
 * --browser the time until a profile page is usable in headless Chromium.
 *
 *   DATABASE_URL=postgres://.../signaltag_bench npm run bench:console -- [--samples 40] [--browser] [--json]
 *
 * Server time is Fastify's own measure of each request (reply.elapsedTime);
 * wall time is what the client saw. Nothing is written but one API key
 * (named bench-console, replaced on each run). With --json the last line is one JSON object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { chromium } from "playwright-core";
import { buildServer } from "../src/api/server.ts";
import { loadConfig } from "../src/config.ts";
import { openPostgres, rows } from "../src/db/client.ts";
import { createApiKey, listKeys, revokeKey } from "../src/keys/keys.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/e2e/chromium.ts";
import { parseArgs } from "./scratch.ts";

const args = parseArgs(process.argv.slice(2));
const samples = Number(args.samples ?? 40);
const log = (s: string) => process.stderr.write(`${s}\n`);
const config = loadConfig();
if (!config.databaseUrl) {
  log("set DATABASE_URL to the workspace to measure (e.g. the rules benchmark's signaltag_bench)");
  process.exit(2);
}

const database = await openPostgres(config.databaseUrl, { max: 20 });
const serverMs = new Map<string, number>();
const app = await buildServer({ database, config, logger: false });
app.addHook("onResponse", async (request, reply) => {
  const id = request.headers["x-bench-id"];
  if (typeof id === "string") serverMs.set(id, reply.elapsedTime);
});
await app.listen({ port: 0, host: "127.0.0.1" });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const old = (await listKeys(database.db)).find((k) => k.name === "bench-console" && !k.revokedAt);
if (old) await revokeKey(database.db, String(old.id));
const { key } = await createApiKey(database.db, { name: "bench-console", role: "admin" });

let seq = 0;
async function call(method: string, url: string, body?: unknown): Promise<{ wall: number; server: number }> {
  const id = String(++seq);
  const t0 = performance.now();
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      "x-bench-id": id,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const wall = performance.now() - t0;
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text}`);
  return { wall, server: serverMs.get(id) ?? Number.NaN };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!.toFixed(1));
};
const summary = (xs: { wall: number; server: number }[]) => ({
  n: xs.length,
  serverP50: pct(
    xs.map((x) => x.server),
    50,
  ),
  serverP95: pct(
    xs.map((x) => x.server),
    95,
  ),
  wallP95: pct(
    xs.map((x) => x.wall),
    95,
  ),
  wallMax: pct(
    xs.map((x) => x.wall),
    100,
  ),
});

const [counts] = await rows<{ users: number; accounts: number }>(
  database.db,
  sql`select (select count(*) from users)::int as users, (select count(*) from accounts)::int as accounts`,
);
// Evenly spread samples: every k-th user by id, read through the primary key.
const picked = await rows<{ id: string; name: string | null; email: string | null; account_id: string }>(
  database.db,
  sql`select id, name, email, account_id from (
        select id, name, email, account_id, row_number() over (order by id) as n from users) u
      where n % ${Math.max(1, Math.floor((counts?.users ?? 1) / samples))} = 0 limit ${samples}`,
);
log(`workspace: ${counts?.users} users, ${counts?.accounts} accounts; ${picked.length} sampled users`);

// Search while typing: every prefix of the first characters of names, emails and ids.
const typing: { wall: number; server: number }[] = [];
for (const u of picked) {
  for (const text of [u.name ?? "", u.email ?? "", u.id]) {
    for (let n = 1; n <= Math.min(8, text.length); n++) {
      typing.push(await call("GET", `/v1/search?q=${encodeURIComponent(text.slice(0, n))}`));
    }
  }
}

// A profile page: the requests the console sends at once when it opens one.
const profile: { wall: number; server: number }[] = [];
for (const u of picked) {
  for (const [path, id] of [
    ["users", u.id],
    ["accounts", u.account_id],
  ] as const) {
    const t0 = performance.now();
    const parts = await Promise.all([
      call("GET", `/v1/${path}/${encodeURIComponent(id)}`),
      call("GET", `/v1/${path}/${encodeURIComponent(id)}/activity?days=30`),
      call("GET", `/v1/${path}/${encodeURIComponent(id)}/history?limit=20`),
      call("GET", "/v1/search/tags?q=&limit=8"),
    ]);
    profile.push({ wall: performance.now() - t0, server: Math.max(...parts.map((p) => p.server)) });
  }
}

// Segment builder: a first page of 50 with the count, for queries people build.
const active = {
  all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThanInclusive", value: 10 }],
};
const queries: [string, Record<string, unknown>][] = [
  ["users", { taggedWith: ["inactive user"] }],
  ["users", { taggedWith: ["power users"], notTagged: ["new user"] }],
  ["users", { notTagged: ["inactive user"] }],
  ["users", { taggedWith: ["new user", "power users"], match: "any" }],
  ["users", { taggedWith: ["power users"], conditions: active }],
  ["accounts", { taggedWith: ["renewal-risk"] }],
  ["accounts", { notTagged: ["new-account"] }],
];
const segment: { wall: number; server: number }[] = [];
const counting: { wall: number; server: number }[] = [];
const perQuery: Record<
  string,
  (ReturnType<typeof summary> & { count: number; countServerP95: number }) | { error: string }
> = {};
for (const [path, q] of queries) {
  log(`segment ${path} ${JSON.stringify(q)}`);
  const times: { wall: number; server: number }[] = [];
  const counts: { wall: number; server: number }[] = [];
  try {
    for (let i = 0; i < Math.max(3, Math.floor(samples / 8)); i++) {
      // What the console sends: the first page without the count, and the count alone, at once.
      const [first, count] = await Promise.all([
        call("POST", `/v1/segments/${path}/query`, { ...q, limit: 50, count: false }),
        call("POST", `/v1/segments/${path}/query`, { ...q, limit: 1 }),
      ]);
      times.push(first);
      counts.push(count);
    }
  } catch (err) {
    // A query the server refuses (segment_too_slow) is reported, not timed.
    perQuery[`${path} ${JSON.stringify(q)}`] = { error: (err as Error).message };
    continue;
  }
  const res = await fetch(`${base}/v1/segments/${path}/query`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ ...q, limit: 1 }),
  });
  const count = ((await res.json()) as { count: number }).count;
  perQuery[`${path} ${JSON.stringify(q)}`] = {
    ...summary(times),
    count,
    countServerP95: summary(counts).serverP95,
  };
  segment.push(...times);
  counting.push(...counts);
}

// The tags page: every tag with its counts per type.
const tagsPage: { wall: number; server: number }[] = [];
for (let i = 0; i < Math.max(5, Math.floor(samples / 4)); i++) tagsPage.push(await call("GET", "/v1/tags"));

// The page in a browser: from opening a profile to its tags, activity and history shown.
let browser: { n: number; p50: number; p95: number; max: number } | undefined;
if (args.browser === true) {
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-bench-console-"));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const times: number[] = [];
    for (const u of picked.slice(0, Math.min(20, picked.length))) {
      const t0 = performance.now();
      await page.goto(`${base}/#/users/${encodeURIComponent(u.id)}`);
      await page.getByRole("combobox", { name: "Add tag" }).waitFor();
      await page.getByText(/Active on \d+ of the last 30 days/).waitFor();
      await page.getByRole("heading", { name: "History" }).waitFor();
      await page.getByText("Loading the history…").waitFor({ state: "hidden" });
      times.push(performance.now() - t0);
    }
    browser = { n: times.length, p50: pct(times, 50), p95: pct(times, 95), max: pct(times, 100) };
  } finally {
    await context.close();
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

const result = {
  users: counts?.users,
  accounts: counts?.accounts,
  loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  searchWhileTyping: summary(typing),
  profilePage: summary(profile),
  segmentFirstPage: summary(segment),
  segmentCount: summary(counting),
  segmentQueries: perQuery,
  tagsPage: summary(tagsPage),
  ...(browser ? { browserProfileUsableMs: browser } : {}),
};
await app.close();
await database.close();
if (args.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
