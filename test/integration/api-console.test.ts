import Fastify from "fastify";
import { beforeAll, describe, expect, it } from "vitest";
import type { ApiDeps } from "../../src/api/deps.ts";
import { registerConsoleRoutes } from "../../src/api/routes/console.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  addUser,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const NOW = new Date("2026-03-31T12:00:00Z");

describe.skipIf(backendUnavailable())("the routes the web console uses", () => {
  const t = useTestDatabase();
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) }, clock: () => NOW });
  let keys: Record<Role, string>;
  const get = (url: string, key = keys.viewer) => api.call(key, { method: "GET", url });
  const patch = (url: string, payload: object, key = keys.editor) =>
    api.call(key, { method: "PATCH", url, payload });
  const tagsOf = async (path: string) =>
    ((await get(path)).json() as { tags: { name: string; claims: { source: string }[] }[] }).tags.map(
      (t) => `${t.name}|${t.claims.map((c) => c.source).join(",")}`,
    );

  beforeAll(async () => {
    await addAccount(t.database, { id: "acc-1" });
    await addAccount(t.database, { id: "ACME-2" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
    await addUser(t.database, { id: "u10", accountId: "acc-1" });
    await addUser(t.database, { id: "u2", accountId: "ACME-2" });
    await addUser(t.database, { id: "100%_real", accountId: "ACME-2" });
    await addActivity(t.database, { userId: "u1", accountId: "acc-1", days: lastDays("2026-03-31", 3) });
    await addActivity(t.database, { userId: "u1", accountId: "acc-1", days: ["2026-02-01"] });
    keys = await api.createKeys();
  });

  it("tells each key its name and role, and refuses a missing key", async () => {
    for (const role of ["viewer", "editor", "admin"] as const) {
      const res = await get("/v1/me", keys[role]);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ name: `${role}-key`, role });
    }
    expect((await api.call(undefined, { method: "GET", url: "/v1/me" })).statusCode).toBe(401);
  });

  it("finds accounts and users by id, name or email prefix, exact ids first", async () => {
    const ids = async (q: string) =>
      (
        (await get(`/v1/search?q=${encodeURIComponent(q)}`)).json() as {
          results: { type: string; id: string }[];
        }
      ).results.map((r) => `${r.type}:${r.id}`);
    expect(await ids("u1")).toEqual(["user:u1", "user:u10"]);
    // Names ("User u2", "Account ACME-2") and emails match in any case.
    expect(await ids("user U2")).toEqual(["user:u2"]);
    expect(await ids("U2@EXAMPLE")).toEqual(["user:u2"]);
    expect(await ids("account acme")).toEqual(["account:ACME-2"]);
    // LIKE's wildcards are plain characters here.
    expect(await ids("100%")).toEqual(["user:100%_real"]);
    expect(await ids("%")).toEqual([]);
    expect(await ids("_")).toEqual([]);
    expect(await ids("   ")).toEqual([]);
    const long = await get(`/v1/search?q=${"x".repeat(201)}`);
    expect(long.statusCode).toBe(400);
    expect(long.json().error.message).toMatch(/query\.q is 201 characters long/);
  });

  it("applies several additions and removals as one change, each with its history", async () => {
    await api.call(keys.editor, { method: "POST", url: "/v1/accounts/acc-1/tags", payload: { tag: "Old" } });
    const res = await patch("/v1/accounts/acc-1/tags", {
      add: ["VIP", " renewal call ", "vip"],
      remove: ["old"],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      changed: true,
      added: [
        { tag: "VIP", source: "manual", membershipChanged: true },
        { tag: "renewal call", source: "manual", membershipChanged: true },
      ],
      removed: [{ tag: "Old", source: "manual", membershipChanged: true }],
    });
    expect(await tagsOf("/v1/accounts/acc-1")).toEqual(["renewal call|manual", "VIP|manual"]);
    const history = (await get("/v1/accounts/acc-1/history?limit=3")).json() as {
      entries: { tag: string; action: string; actor: string }[];
    };
    expect(history.entries.map((e) => `${e.tag} ${e.action} ${e.actor}`).sort()).toEqual([
      "Old removed editor-key",
      "VIP added editor-key",
      "renewal call added editor-key",
    ]);
    // Suggestions while typing come from the tags that exist.
    const tags = (await get("/v1/search/tags?q=v")).json() as { tags: string[] };
    expect(tags.tags).toEqual(["VIP"]);
    const again = await patch("/v1/accounts/acc-1/tags", { add: ["vip"] });
    expect(again.json()).toMatchObject({ changed: false, added: [], removed: [] });
  });

  it("changes nothing when any part of the edit is refused", async () => {
    const before = await tagsOf("/v1/accounts/acc-1");
    const both = await patch("/v1/accounts/acc-1/tags", { add: ["x"], remove: ["VIP", "X"] });
    expect(both.statusCode).toBe(400);
    expect(both.json().error.message).toMatch(/"x" is both added and removed/);
    const bad = await patch("/v1/accounts/acc-1/tags", { add: ["fine", "bad\u0000name"], remove: ["VIP"] });
    expect(bad.statusCode).toBe(400);
    const unknown = await patch("/v1/accounts/nope/tags", { add: ["fine"] });
    expect(unknown.statusCode).toBe(404);
    const viewer = await patch("/v1/accounts/acc-1/tags", { remove: ["VIP"] }, keys.viewer);
    expect(viewer.statusCode).toBe(403);
    expect(await tagsOf("/v1/accounts/acc-1")).toEqual(before);
    expect(((await get("/v1/search/tags?q=fine")).json() as { tags: string[] }).tags).toEqual([]);
  });

  it("gives an entity's events per day over the last 30 days and its active days", async () => {
    const res = await get("/v1/users/u1/activity");
    expect(res.statusCode).toBe(200);
    const body = res.json() as { today: string; activeDays: number; days: { day: string; events: number }[] };
    expect(body.today).toBe("2026-03-31");
    expect(body.days).toHaveLength(30);
    expect(body.days[0]!.day).toBe("2026-03-02");
    expect(body.activeDays).toBe(3);
    expect(body.days.slice(-3).map((d) => d.events)).toEqual([1, 1, 1]);
    expect((await get("/v1/users/nobody/activity")).statusCode).toBe(404);
  });

  it("lists rules with their words and status, and the runs recorded", async () => {
    await api.call(keys.admin, { method: "POST", url: "/v1/runs", payload: {} });
    const rules = (await get("/v1/rules")).json() as {
      rules: {
        rule: string;
        enabled: boolean;
        stale: boolean;
        words: { conditions: string[] };
        lastRun?: unknown;
      }[];
      problems: unknown[];
    };
    expect(rules.problems).toEqual([]);
    expect(rules.rules).toHaveLength(1);
    expect(rules.rules[0]).toMatchObject({
      rule: "power-users",
      enabled: true,
      lastRun: { status: "applied" },
    });
    expect(rules.rules[0]!.words.conditions.join("\n")).toMatch(/active days/);
    const runs = (await get("/v1/runs?limit=5")).json() as { runs: { ruleId: string; status: string }[] };
    expect(runs.runs[0]).toMatchObject({ ruleId: "power-users", status: "applied" });
    expect(((await get("/v1/runs?status=held")).json() as { runs: unknown[] }).runs).toEqual([]);
  });
});

describe("the console's pages", () => {
  it("serves the page and its assets, never a path outside them, and says when it is not built", async () => {
    const app = Fastify({ logger: false });
    registerConsoleRoutes(app, {} as ApiDeps, "/nonexistent/signaltag-console");
    const missing = await app.inject({ method: "GET", url: "/" });
    expect(missing.statusCode).toBe(503);
    expect(missing.body).toMatch(/npm run build:web/);
    for (const url of ["/assets/..%2Fpackage.json", "/assets/.hidden", "/assets/a%2Fb.js"]) {
      expect((await app.inject({ method: "GET", url })).statusCode).toBe(404);
    }
    await app.close();
  });
});
