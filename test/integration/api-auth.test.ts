import { sql } from "drizzle-orm";
import type { InjectOptions } from "fastify";
import { beforeEach, describe, expect, it } from "vitest";
import { revokeKey } from "../../src/keys/keys.ts";
import { noTagHooks } from "../../src/tags/changes.ts";
import { applyTag } from "../../src/tags/manual.ts";
import { suppress } from "../../src/tags/suppress.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

interface RouteCase {
  name: string;
  role: Role;
  request: InjectOptions;
  status: number;
}

const json = (method: InjectOptions["method"], url: string, payload?: unknown): InjectOptions => ({
  method,
  url,
  ...(payload === undefined ? {} : { payload: payload as InjectOptions["payload"] }),
});

/** Every route that needs a key, with a request that succeeds for the right role. */
const routes: RouteCase[] = [
  { name: "list tags", role: "viewer", request: json("GET", "/v1/tags"), status: 200 },
  { name: "tag members (users)", role: "viewer", request: json("GET", "/v1/tags/vip/users"), status: 200 },
  {
    name: "tag members as of",
    role: "viewer",
    request: json("GET", "/v1/tags/vip/accounts?asOf=2026-01-01"),
    status: 200,
  },
  {
    name: "rename a tag (refused)",
    role: "editor",
    request: json("PATCH", "/v1/tags/vip", { name: "x" }),
    status: 409,
  },
  {
    name: "replace a tag (refused)",
    role: "editor",
    request: json("PUT", "/v1/tags/vip", { name: "x" }),
    status: 409,
  },
  { name: "delete a tag (refused)", role: "editor", request: json("DELETE", "/v1/tags/vip"), status: 409 },
  { name: "account profile", role: "viewer", request: json("GET", "/v1/accounts/acc-1"), status: 200 },
  { name: "user profile", role: "viewer", request: json("GET", "/v1/users/u1"), status: 200 },
  { name: "account users", role: "viewer", request: json("GET", "/v1/accounts/acc-1/users"), status: 200 },
  {
    name: "tag a user",
    role: "editor",
    request: json("POST", "/v1/users/u1/tags", { tag: "beta" }),
    status: 200,
  },
  {
    name: "tag an account",
    role: "editor",
    request: json("POST", "/v1/accounts/acc-1/tags", { tag: "beta" }),
    status: 200,
  },
  { name: "untag a user", role: "editor", request: json("DELETE", "/v1/users/u1/tags/vip"), status: 200 },
  {
    name: "untag an account",
    role: "editor",
    request: json("DELETE", "/v1/accounts/acc-1/tags/vip"),
    status: 200,
  },
  { name: "user history", role: "viewer", request: json("GET", "/v1/users/u1/history"), status: 200 },
  {
    name: "account history",
    role: "viewer",
    request: json("GET", "/v1/accounts/acc-1/history"),
    status: 200,
  },
  {
    name: "suppress",
    role: "editor",
    request: json("POST", "/v1/users/u1/suppressions", { tag: "power users", reason: "asked" }),
    status: 201,
  },
  {
    name: "list suppressions",
    role: "viewer",
    request: json("GET", "/v1/users/u1/suppressions"),
    status: 200,
  },
  { name: "lift a suppression", role: "editor", request: json("DELETE", "/v1/suppressions/1"), status: 200 },
  {
    name: "bulk tagging",
    role: "admin",
    request: json("POST", "/v1/tags/bulk", {
      action: "add",
      entityType: "user",
      tag: "beta",
      ids: ["u1", "u2"],
    }),
    status: 200,
  },
  {
    name: "tags file import",
    role: "admin",
    request: {
      method: "POST",
      url: "/v1/imports/tags?dryRun=true",
      headers: { "content-type": "text/csv" },
      payload: "user_id,tag##beta\nu1,yes\n",
    },
    status: 200,
  },
  {
    name: "user segment",
    role: "viewer",
    request: json("GET", "/v1/segments/users?taggedWith=vip"),
    status: 200,
  },
  {
    name: "account segment",
    role: "viewer",
    request: json("GET", "/v1/segments/accounts?notTagged=vip"),
    status: 200,
  },
  {
    name: "segment query",
    role: "viewer",
    request: json("POST", "/v1/segments/users/query", { taggedWith: ["vip"] }),
    status: 200,
  },
  {
    name: "bulk tagging of a segment",
    role: "admin",
    request: json("POST", "/v1/segments/users/tags", { action: "add", tag: "beta", taggedWith: ["vip"] }),
    status: 200,
  },
  { name: "rule runs", role: "admin", request: json("POST", "/v1/runs", { dryRun: true }), status: 200 },
  { name: "metrics", role: "viewer", request: json("GET", "/metrics"), status: 200 },
];

const below: Record<Role, Role | undefined> = { viewer: undefined, editor: "viewer", admin: "editor" };

describe.skipIf(backendUnavailable())("API keys and roles", () => {
  const t = useTestDatabase();
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) } });
  let keys: Record<Role, string>;

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
    await addUser(t.database, { id: "u2", accountId: "acc-1" });
    await applyTag(t.database.db, { type: "user", id: "u1", tag: "vip", actor: "seed" }, noTagHooks);
    await applyTag(t.database.db, { type: "account", id: "acc-1", tag: "vip", actor: "seed" }, noTagHooks);
    await suppress(t.database.db, { type: "user", id: "u2", tag: "power users", actor: "seed" }, noTagHooks);
    keys = await api.createKeys();
  });

  for (const route of routes) {
    it(`${route.name}: 401 without a key, with a bad key or a revoked one; 403 below ${route.role}; ${route.status} with it`, async () => {
      const none = await api.call(undefined, route.request);
      expect(none.statusCode).toBe(401);
      expect(none.json()).toMatchObject({
        error: { code: "unauthorized", message: expect.stringContaining("API key") },
      });

      const bad = await api.call("stk_not-a-key", route.request);
      expect(bad.statusCode).toBe(401);
      expect(bad.json()).toMatchObject({ error: { code: "invalid_key" } });

      const malformed = await api.call(undefined, {
        ...route.request,
        headers: { authorization: "Token abc" },
      });
      expect(malformed.statusCode).toBe(401);

      const lower = below[route.role];
      if (lower) {
        const denied = await api.call(keys[lower], route.request);
        expect(denied.statusCode).toBe(403);
        expect(denied.json()).toMatchObject({
          error: { code: "forbidden", required: route.role, role: lower },
        });
      }

      const ok = await api.call(keys[route.role], route.request);
      expect(ok.statusCode, ok.body).toBe(route.status);

      await revokeKey(t.database.db, "admin-key");
      const revoked = await api.call(keys.admin, route.request);
      expect(revoked.statusCode).toBe(401);
      expect(revoked.json()).toMatchObject({
        error: { code: "invalid_key", message: expect.stringContaining("revoked") },
      });
    });
  }

  it("serves /health, the OpenAPI document and the docs page without a key", async () => {
    const health = await api.call(undefined, { method: "GET", url: "/health" });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: "ok", database: { status: "ok" } });
    expect(health.json().redis).toBeUndefined();
    const spec = await api.call(undefined, { method: "GET", url: "/docs/json" });
    expect(spec.statusCode).toBe(200);
    const paths = Object.keys(spec.json().paths);
    for (const p of [
      "/v1/tags",
      "/v1/tags/bulk",
      "/v1/imports/tags",
      "/v1/segments/users",
      "/v1/users/{id}/tags/{tag}",
    ]) {
      expect(paths).toContain(p);
    }
    const page = await api.call(undefined, { method: "GET", url: "/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await api.call(keys.admin, { method: "GET", url: "/v1/people/u1" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: "route_not_found" } });
  });

  it("exposes request latencies, claims and runs as Prometheus metrics", async () => {
    const manualAdded = async () => {
      const body = (await api.call(keys.viewer, { method: "GET", url: "/metrics" })).body;
      return Number(/^signaltag_claims_added_total\{source="manual"\} (\d+)$/m.exec(body)?.[1] ?? 0);
    };
    const before = await manualAdded();
    await api.call(keys.editor, { method: "POST", url: "/v1/users/u2/tags", payload: { tag: "beta" } });
    expect(await manualAdded()).toBe(before + 1);
    const res = await api.call(keys.viewer, { method: "GET", url: "/metrics" });
    expect(res.headers["content-type"]).toContain("text/plain");
    expect(res.body).toMatch(
      /signaltag_http_request_duration_seconds_bucket\{.*route="\/v1\/users\/:id\/tags".*status_code="200"/,
    );
    expect(res.body).toContain('signaltag_claims{source="manual"} 3');
    expect(res.body).toContain("signaltag_rule_runs_total");
    expect(res.body).toContain("signaltag_job_duration_seconds");
  });

  it("gives each rule's last run over all its entities as its last run duration, not a few entities' re-evaluation", async () => {
    const record = (status: string, ms: number, details: Record<string, unknown>) =>
      t.database.db.execute(sql`
        insert into rule_runs (rule_id, rule_version, trigger, as_of, status, evaluated, matched, added, removed,
                               started_at, finished_at, duration_ms, details)
        values ('metered', 'v1', 'schedule', now(), ${status}, 1, 1, 0, 0, now(), now(), ${ms},
                ${JSON.stringify(details)}::jsonb)`);
    await record("applied", 4000, {});
    await record("applied", 1500, { scope: "changed", since: 1 });
    await record("failed", 20, { scope: "entities", entities: 1 });
    await record("dry-run", 30, {});
    const body = (await api.call(keys.viewer, { method: "GET", url: "/metrics" })).body;
    const lines = body
      .split("\n")
      .filter((l) => l.startsWith('signaltag_rule_last_run_duration_seconds{rule="metered"'));
    expect(lines).toEqual(['signaltag_rule_last_run_duration_seconds{rule="metered",status="applied"} 1.5']);
  });

  it("records the key's name as the actor of its changes", async () => {
    await api.call(keys.editor, { method: "POST", url: "/v1/users/u2/tags", payload: { tag: "beta" } });
    const history = await api.call(keys.viewer, { method: "GET", url: "/v1/users/u2/history?tag=beta" });
    expect(history.json().entries[0]).toMatchObject({
      actor: "editor-key",
      source: "manual",
      action: "added",
    });
  });
});
