import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  claimsOf,
  countRows,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const T = "2026-03-31T12:00:00.000Z";
const userId = (i: number) => `u${String(i).padStart(6, "0")}`;

describe.skipIf(backendUnavailable())(
  "bulk tagging, tags files, segments and suppressions through the HTTP API",
  () => {
    const t = useTestDatabase();
    const api = useApi(t, {
      env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) },
      clock: () => new Date(T),
    });
    let keys: Record<Role, string>;
    const admin = (method: "POST" | "GET" | "DELETE", url: string, payload?: unknown) =>
      api.call(keys.admin, { method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
    const csv = (url: string, body: string) =>
      api.call(keys.admin, { method: "POST", url, headers: { "content-type": "text/csv" }, payload: body });

    async function addUsers(n: number) {
      await t.database.db.execute(sql`
      insert into users (id, account_id, email, created_at)
      select 'u' || lpad(i::text, 6, '0'), 'acc-' || (i % 3), 'u' || i || '@example.com', '2025-01-01T00:00:00Z'::timestamptz
      from generate_series(1, ${n}) i`);
    }

    beforeEach(async () => {
      await t.reset();
      for (const id of ["acc-0", "acc-1", "acc-2"]) await addAccount(t.database, { id });
      await addUsers(30);
      keys = await api.createKeys();
    });

    it("adds and removes a tag on a list of ids in one request", async () => {
      const ids = [1, 2, 3, 3].map(userId);
      const add = await admin("POST", "/v1/tags/bulk", {
        action: "add",
        entityType: "user",
        tag: "Beta",
        ids,
      });
      expect(add.statusCode).toBe(200);
      expect(add.json()).toEqual({
        action: "add",
        entityType: "user",
        tag: "Beta",
        requested: 3,
        claimsChanged: 3,
        membershipsChanged: 3,
        unchanged: 0,
      });
      expect((await claimsOf(t.database, "beta")).map((c) => c.source)).toEqual(["bulk", "bulk", "bulk"]);
      const remove = await admin("POST", "/v1/tags/bulk", {
        action: "remove",
        entityType: "user",
        tag: "beta",
        ids: [userId(1)],
      });
      expect(remove.json()).toMatchObject({ claimsChanged: 1, membershipsChanged: 1 });
      const accounts = await admin("POST", "/v1/tags/bulk", {
        action: "add",
        entityType: "account",
        tag: "beta",
        ids: ["acc-1"],
      });
      expect(accounts.json()).toMatchObject({ entityType: "account", claimsChanged: 1 });
    });

    it("refuses the whole request when ids are unknown, listing every one", async () => {
      const res = await admin("POST", "/v1/tags/bulk", {
        action: "add",
        entityType: "user",
        tag: "beta",
        ids: [userId(1), "ghost-b", userId(2), "ghost-a", "acc-1"],
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        error: { code: "unknown_ids", entityType: "user", unknownIds: ["acc-1", "ghost-a", "ghost-b"] },
      });
      expect(await countRows(t.database, "claims")).toBe(0);
      expect(await rows(t.database.db, sql`select * from tags`)).toEqual([]);
    });

    it("refuses bad bulk bodies with 400 naming the field, and oversized ones", async () => {
      const base = { action: "add", entityType: "user", tag: "beta", ids: [userId(1)] };
      const cases: [unknown, string][] = [
        [{ ...base, action: "toggle" }, "body.action"],
        [{ ...base, entityType: "users" }, "body.entityType"],
        [{ ...base, ids: userId(1) }, "body.ids"],
        [{ ...base, ids: [] }, "body.ids"],
        [{ ...base, ids: [userId(1), 7] }, "body.ids[1]"],
        [{ ...base, ids: [""] }, "body.ids[0]"],
        [{ action: "add", entityType: "user", ids: [userId(1)] }, "body.tag"],
        [{ ...base, dryRun: true }, "body.dryRun"],
      ];
      for (const [payload, field] of cases) {
        const res = await admin("POST", "/v1/tags/bulk", payload);
        expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
        expect(res.json().error.field).toBe(field);
      }
      const tooMany = Array.from({ length: 100_001 }, (_, i) => userId(i + 1));
      const over = await admin("POST", "/v1/tags/bulk", { ...base, ids: tooMany });
      expect(over.statusCode).toBe(400);
      expect(over.json()).toMatchObject({ error: { code: "too_many_ids", field: "body.ids", max: 100_000 } });
      const huge = await api.call(keys.admin, {
        method: "POST",
        url: "/v1/tags/bulk",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ ...base, ids: ["x".repeat(33 * 1024 * 1024)] }),
      });
      expect(huge.statusCode).toBe(413);
      expect(huge.json()).toMatchObject({ error: { code: "body_too_large" } });
      const malformed = await api.call(keys.admin, {
        method: "POST",
        url: "/v1/tags/bulk",
        headers: { "content-type": "application/json" },
        payload: '{"action": "add", "ids": [',
      });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json()).toMatchObject({ error: { code: "malformed_json" } });
      expect(await countRows(t.database, "claims")).toBe(0);
    });

    it.skipIf(testBackend() !== "postgres")(
      "tags 100,000 users in one request",
      async () => {
        await t.database.db.execute(sql`delete from users`);
        await addUsers(100_000);
        const ids = Array.from({ length: 100_000 }, (_, i) => userId(i + 1));
        const res = await admin("POST", "/v1/tags/bulk", {
          action: "add",
          entityType: "user",
          tag: "all",
          ids,
        });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ requested: 100_000, claimsChanged: 100_000 });
        expect(await countRows(t.database, "tag_events")).toBe(100_000);
      },
      120_000,
    );

    it("reports in a tags file dry run exactly what the upload then does", async () => {
      await admin("POST", "/v1/tags/bulk", {
        action: "add",
        entityType: "user",
        tag: "vip",
        ids: [userId(1), userId(2)],
      });
      await api.call(keys.editor, {
        method: "POST",
        url: `/v1/users/${userId(2)}/tags`,
        payload: { tag: "vip" },
      });
      const file = [
        "user_id,tag##VIP,tag##churn risk,tag##🚀 new",
        `${userId(1)},no,yes,`,
        `${userId(2)},false,,true`,
        `${userId(3)},yes,no,yes`,
        `${userId(4)},,,`,
      ].join("\r\n");
      const claimsBefore = await rows(
        t.database.db,
        sql`select * from claims order by entity_id, tag_id, source`,
      );
      const dry = await csv("/v1/imports/tags?dryRun=true&name=accounts.csv", file);
      expect(dry.statusCode).toBe(200);
      expect(await rows(t.database.db, sql`select * from claims order by entity_id, tag_id, source`)).toEqual(
        claimsBefore,
      );
      const real = await csv("/v1/imports/tags?name=accounts.csv", file);
      expect(real.statusCode).toBe(200);
      expect({ ...dry.json(), dryRun: false }).toEqual(real.json());
      expect(real.json()).toMatchObject({
        entityType: "user",
        tags: ["vip", "churn risk", "🚀 new"],
        addedCount: 4,
        removedCount: 3,
        membershipsRemoved: 2,
        refused: false,
      });
      const fileClaims = await rows<{ entity_id: string; name: string }>(
        t.database.db,
        sql`select c.entity_id, t.name from claims c join tags t on t.id = c.tag_id where c.source = 'file' order by 1, 2`,
      );
      expect(fileClaims.map((c) => [c.entity_id, c.name])).toEqual(
        real
          .json()
          .added.map((c: { entityId: string; tag: string }) => [c.entityId, c.tag])
          .sort(),
      );
    });

    it("lists unknown ids in a dry run and refuses them in the upload, which writes nothing", async () => {
      const file = `user_id,tag##beta\n${userId(1)},yes\nghost,yes\n`;
      const dry = await csv("/v1/imports/tags?dryRun=true", file);
      expect(dry.json()).toMatchObject({
        refused: true,
        unknownIds: [{ id: "ghost", line: 3 }],
        addedCount: 1,
      });
      const real = await csv("/v1/imports/tags", file);
      expect(real.statusCode).toBe(400);
      expect(real.json()).toMatchObject({
        error: { code: "unknown_ids", unknownIds: [{ id: "ghost", line: 3 }] },
      });
      expect(await countRows(t.database, "claims")).toBe(0);
      const skipping = await csv("/v1/imports/tags?skipInvalid=true", file);
      expect(skipping.json()).toMatchObject({ addedCount: 1, refused: false });
      const badValue = await csv("/v1/imports/tags", `user_id,tag##beta\n${userId(2)},maybe\n`);
      expect(badValue.statusCode).toBe(400);
      expect(badValue.json()).toMatchObject({
        error: { code: "invalid_file", problems: [{ line: 2, column: "tag##beta" }] },
      });
      const badHeader = await csv("/v1/imports/tags", "email,tag##beta\nx,yes\n");
      expect(badHeader.json()).toMatchObject({ error: { code: "invalid_file" } });
      const asJson = await admin("POST", "/v1/imports/tags", { rows: [] });
      expect(asJson.statusCode).toBe(400);
      expect((await csv("/v1/imports/tags?dryrun=true", file)).json()).toMatchObject({
        error: { field: "query.dryrun" },
      });
      expect(await countRows(t.database, "claims")).toBe(1);
    });

    it("pages segments with counts that agree with the rows across all pages, and exports CSV", async () => {
      const ids = (from: number, to: number) =>
        Array.from({ length: to - from + 1 }, (_, i) => userId(from + i));
      await admin("POST", "/v1/tags/bulk", { action: "add", entityType: "user", tag: "a", ids: ids(1, 20) });
      await admin("POST", "/v1/tags/bulk", { action: "add", entityType: "user", tag: "b", ids: ids(15, 25) });
      const queries: [string, number][] = [
        ["taggedWith=a", 20],
        ["taggedWith=a&taggedWith=b", 6],
        ["taggedWith=a&taggedWith=b&match=any", 25],
        ["taggedWith=a&notTagged=b", 14],
        ["notTagged=a&notTagged=B", 5],
        ["", 30],
      ];
      for (const [query, expected] of queries) {
        for (const limit of [4, 7, 1000]) {
          const seen: string[] = [];
          let cursor: string | null = null;
          do {
            const res = await api.call(keys.viewer, {
              method: "GET",
              url: `/v1/segments/users?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
            });
            expect(res.statusCode, res.body).toBe(200);
            const page = res.json();
            expect(page.count).toBe(expected);
            seen.push(...page.rows.map((r: { id: string }) => r.id));
            cursor = page.nextCursor;
          } while (cursor);
          expect(seen).toHaveLength(expected);
          expect(new Set(seen).size).toBe(expected);
        }
      }
      const exported = await api.call(keys.viewer, {
        method: "GET",
        url: "/v1/segments/users?taggedWith=b&format=csv",
      });
      expect(exported.statusCode).toBe(200);
      expect(exported.headers["content-type"]).toContain("text/csv");
      const lines = exported.body.trim().split("\n");
      expect(lines[0]).toBe("id,account_id,email,name,created_at,tags");
      expect(lines).toHaveLength(12);
      expect(lines[1]).toBe(`${userId(15)},acc-0,u15@example.com,,2025-01-01T00:00:00.000Z,a;b`);
      const accounts = await api.call(keys.viewer, { method: "GET", url: "/v1/segments/accounts" });
      expect(accounts.json()).toMatchObject({
        count: 3,
        rows: [{ id: "acc-0" }, { id: "acc-1" }, { id: "acc-2" }],
      });
    });

    it("filters segments by conditions in the rule condition format and refuses bad ones", async () => {
      await addActivity(t.database, {
        userId: userId(3),
        accountId: "acc-0",
        days: lastDays("2026-03-31", 25),
      });
      const conditions = {
        all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThanInclusive", value: 20 }],
      };
      const get = await api.call(keys.viewer, {
        method: "GET",
        url: `/v1/segments/users?conditions=${encodeURIComponent(JSON.stringify(conditions))}&asOf=${T}`,
      });
      expect(get.json()).toMatchObject({ count: 1, rows: [{ id: userId(3) }] });
      const post = await api.call(keys.viewer, {
        method: "POST",
        url: "/v1/segments/users/query",
        payload: { conditions, notTagged: ["x"] },
      });
      expect(post.json()).toMatchObject({ count: 1, rows: [{ id: userId(3) }], unknownTags: ["x"] });
      const bad = await api.call(keys.viewer, {
        method: "POST",
        url: "/v1/segments/users/query",
        payload: { conditions: { all: [{ fact: "activeDay", operator: "greaterThan", value: "x" }] } },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({
        error: {
          code: "invalid_conditions",
          problems: [{ pointer: "/conditions/all/0/fact", suggestion: "activeDays" }],
        },
      });
      const wrongTarget = await api.call(keys.viewer, {
        method: "POST",
        url: "/v1/segments/users/query",
        payload: { conditions: { all: [{ fact: "userCount", operator: "greaterThan", value: 1 }] } },
      });
      expect(wrongTarget.statusCode).toBe(400);
      const notJson = await api.call(keys.viewer, {
        method: "GET",
        url: "/v1/segments/users?conditions=%7Bnope",
      });
      expect(notJson.json()).toMatchObject({ error: { field: "query.conditions" } });
      const badMatch = await api.call(keys.viewer, { method: "GET", url: "/v1/segments/users?match=some" });
      expect(badMatch.json()).toMatchObject({ error: { field: "query.match" } });
      const badCursor = await api.call(keys.viewer, { method: "GET", url: "/v1/segments/users?cursor=%%%" });
      expect(badCursor.statusCode).toBe(400);
    });

    it("tags every entity of a segment in bulk", async () => {
      await admin("POST", "/v1/tags/bulk", {
        action: "add",
        entityType: "user",
        tag: "a",
        ids: [userId(1), userId(2)],
      });
      const res = await admin("POST", "/v1/segments/users/tags", {
        action: "add",
        tag: "not-a",
        notTagged: ["a"],
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ requested: 28, claimsChanged: 28, membershipsChanged: 28 });
      const count = await api.call(keys.viewer, {
        method: "GET",
        url: "/v1/segments/users?taggedWith=not-a&count=true",
      });
      expect(count.json().count).toBe(28);
      const removed = await admin("POST", "/v1/segments/users/tags", {
        action: "remove",
        tag: "not-a",
        taggedWith: ["not-a"],
      });
      expect(removed.json()).toMatchObject({ claimsChanged: 28 });
      expect((await admin("POST", "/v1/segments/users/tags", { tag: "x" })).json()).toMatchObject({
        error: { field: "body.action" },
      });
    });

    it("respects a suppression in the next rule run and lifts it on its date, visible on the profile and in history", async () => {
      await addActivity(t.database, {
        userId: userId(1),
        accountId: "acc-1",
        days: lastDays("2026-04-30", 60),
      });
      const run = async (asOf: string) => {
        const res = await admin("POST", "/v1/runs", { asOf, rules: ["power-users"] });
        expect(res.statusCode, res.body).toBe(200);
        return res.json().results[0];
      };
      expect(await run(T)).toMatchObject({ status: "applied", added: 1 });
      const created = await api.call(keys.editor, {
        method: "POST",
        url: `/v1/users/${userId(1)}/suppressions`,
        payload: {
          tag: "power users",
          rule: "power-users",
          until: "2026-04-10T00:00:00Z",
          reason: "asked to stop",
        },
      });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({
        removedClaims: ["rule:power-users"],
        suppression: {
          status: "active",
          ruleId: "power-users",
          until: "2026-04-10T00:00:00.000Z",
          createdBy: "editor-key",
        },
      });
      expect(await claimsOf(t.database, "power users")).toEqual([]);
      expect(await run("2026-04-05T12:00:00Z")).toMatchObject({ status: "applied", added: 0 });
      expect(await claimsOf(t.database, "power users")).toEqual([]);
      const profile = (await api.call(keys.viewer, { method: "GET", url: `/v1/users/${userId(1)}` })).json();
      expect(profile.suppressions).toMatchObject([
        { tag: "power users", status: "active", reason: "asked to stop" },
      ]);
      expect(await run("2026-04-10T12:00:00Z")).toMatchObject({ status: "applied", added: 1 });
      expect(await claimsOf(t.database, "power users")).toEqual([
        { entity_id: userId(1), source: "rule:power-users" },
      ]);
      const history = (
        await api.call(keys.viewer, { method: "GET", url: `/v1/users/${userId(1)}/history` })
      ).json();
      expect(history.entries.map((e: { kind: string; action: string }) => `${e.kind}:${e.action}`)).toEqual([
        "tag:added",
        "tag:removed",
        "suppression:suppressed",
        "tag:added",
      ]);
      expect(history.entries[2].summary).toBe(
        "suppressed: rule power-users may not claim the tag until 2026-04-10T00:00:00.000Z by editor-key (asked to stop)",
      );
    });

    it("lifts a suppression on request and refuses bad ones", async () => {
      const created = await api.call(keys.editor, {
        method: "POST",
        url: `/v1/users/${userId(1)}/suppressions`,
        payload: { tag: "power users" },
      });
      const id = created.json().suppression.id;
      const lifted = await api.call(keys.editor, { method: "DELETE", url: `/v1/suppressions/${id}` });
      expect(lifted.json()).toMatchObject({
        changed: true,
        suppression: { status: "lifted", liftedBy: "editor-key" },
      });
      const all = await api.call(keys.viewer, {
        method: "GET",
        url: `/v1/users/${userId(1)}/suppressions?all=true`,
      });
      expect(all.json()).toMatchObject([{ id, status: "lifted" }]);
      const inForce = await api.call(keys.viewer, {
        method: "GET",
        url: `/v1/users/${userId(1)}/suppressions`,
      });
      expect(inForce.json()).toEqual([]);
      const post = (id: string, payload: unknown) =>
        api.call(keys.editor, {
          method: "POST",
          url: `/v1/users/${id}/suppressions`,
          payload: payload as object,
        });
      expect((await post(userId(1), { tag: "x", until: "2020-01-01T00:00:00Z" })).json()).toMatchObject({
        error: { field: "until" },
      });
      expect((await post(userId(1), { tag: "x", until: "soon" })).json()).toMatchObject({
        error: { field: "body.until" },
      });
      expect((await post(userId(1), { tag: "x", rule: "powr-users" })).json()).toMatchObject({
        error: { code: "unknown_rule" },
      });
      expect((await post("ghost", { tag: "x" })).statusCode).toBe(404);
      expect((await post(userId(1), { until: "2030-01-01T00:00:00Z" })).json()).toMatchObject({
        error: { field: "body.tag" },
      });
      expect(
        (await api.call(keys.editor, { method: "DELETE", url: "/v1/suppressions/999" })).statusCode,
      ).toBe(404);
      expect(
        (await api.call(keys.editor, { method: "DELETE", url: "/v1/suppressions/abc" })).json(),
      ).toMatchObject({
        error: { field: "params.id" },
      });
    });

    it("refuses runs of unknown rules", async () => {
      const res = await admin("POST", "/v1/runs", { rules: ["power-user"] });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toContain("did you mean power-users");
      expect((await admin("POST", "/v1/runs", { asOf: "tomorrow" })).json()).toMatchObject({
        error: { field: "body.asOf" },
      });
    });
  },
);
