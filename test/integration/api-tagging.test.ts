import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
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

const hostile = "x'); drop table users;--";
const emoji = "🚀 launch 👩‍🚀";

describe.skipIf(backendUnavailable())("tagging through the HTTP API", () => {
  const t = useTestDatabase();
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) } });
  let keys: Record<Role, string>;
  const editor = (method: "POST" | "DELETE" | "GET", url: string, payload?: unknown) =>
    api.call(keys.editor, { method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  const viewer = (url: string) => api.call(keys.viewer, { method: "GET", url });

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, {
      id: "acc-1",
      contractStatus: "paying",
      healthScore: 35,
      health: "poor",
      attributes: { plan: "pro" },
    });
    await addAccount(t.database, { id: "acc-2" });
    await addUser(t.database, { id: "u1", accountId: "acc-1", attributes: { role: "admin" } });
    await addUser(t.database, { id: "u2", accountId: "acc-1" });
    await addUser(t.database, { id: "u/3 é", accountId: "acc-2" });
    keys = await api.createKeys();
  });

  it("applies a tag by hand and answers with the entity's tags", async () => {
    const res = await editor("POST", "/v1/users/u1/tags", { tag: "Champion" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      changed: true,
      tag: "Champion",
      claims: [{ source: "manual", membershipChanged: true }],
      tags: [
        { name: "Champion", claims: [{ source: "manual", since: expect.any(String), actor: "editor-key" }] },
      ],
    });
    const again = await editor("POST", "/v1/users/u1/tags", { tag: "  champion " });
    expect(again.json()).toMatchObject({ changed: false, tag: "Champion" });
    const odd = await editor("POST", `/v1/users/${encodeURIComponent("u/3 é")}/tags`, { tag: "odd id" });
    expect(odd.statusCode).toBe(200);
  });

  it("removes every claim on a tag by hand and answers with what is left", async () => {
    await editor("POST", "/v1/users/u1/tags", { tag: "vip" });
    await editor("POST", "/v1/users/u1/tags", { tag: "beta" });
    await t.database.db.execute(
      sql`insert into claims (source, tag_id, entity_type, entity_id) select 'rule:power-users', id, 'user', 'u1' from tags where name = 'vip'`,
    );
    const res = await editor("DELETE", "/v1/users/u1/tags/VIP");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ changed: true, tag: "vip", tags: [{ name: "beta" }] });
    expect(
      res
        .json()
        .claims.map((c: { source: string }) => c.source)
        .sort(),
    ).toEqual(["manual", "rule:power-users"]);
    const none = await editor("DELETE", "/v1/users/u1/tags/never");
    expect(none.statusCode).toBe(200);
    expect(none.json()).toMatchObject({ changed: false });
  });

  it("refuses bad bodies with 400 naming the field, and unknown entities with 404", async () => {
    const cases: [unknown, string, string][] = [
      [{}, "body.tag", "invalid_request"],
      [{ tag: "x", color: "red" }, "body.color", "invalid_request"],
      [{ tag: 5 }, "body.tag", "invalid_request"],
      [{ tag: "" }, "body.tag", "invalid_request"],
      [{ tag: "   " }, "tag", "invalid_tag_name"],
      [{ tag: "x".repeat(201) }, "tag", "invalid_tag_name"],
    ];
    for (const [payload, field, code] of cases) {
      const res = await editor("POST", "/v1/users/u1/tags", payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toMatchObject({ error: { code, field, message: expect.any(String) } });
    }
    const malformed = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u1/tags",
      headers: { "content-type": "application/json" },
      payload: '{"tag": "vip"',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: { code: "malformed_json" } });
    const textBody = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u1/tags",
      headers: { "content-type": "application/xml" },
      payload: "<tag/>",
    });
    expect(textBody.statusCode).toBe(415);
    const unknown = await editor("POST", "/v1/users/nobody/tags", { tag: "vip" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: "not_found", id: "nobody", entityType: "user" } });
    expect((await viewer("/v1/accounts/nobody")).statusCode).toBe(404);
    expect((await viewer("/v1/users/nobody/history")).statusCode).toBe(404);
    expect((await viewer("/v1/accounts/acc-1/users?limit=0")).json()).toMatchObject({
      error: { field: "query.limit" },
    });
    expect((await viewer("/v1/tags?x=1")).json()).toMatchObject({ error: { field: "query.x" } });
    expect(await rows(t.database.db, sql`select * from claims`)).toEqual([]);
  });

  it("stores hostile and emoji tag names verbatim and changes nothing else", async () => {
    const snapshot = async () => ({
      accounts: await rows(t.database.db, sql`select * from accounts order by id`),
      users: await rows(t.database.db, sql`select * from users order by id`),
      keys: await rows(t.database.db, sql`select id, name, role, revoked_at from api_keys order by id`),
    });
    const before = await snapshot();
    expect((await editor("POST", "/v1/users/u1/tags", { tag: hostile })).json().tag).toBe(hostile);
    expect((await editor("POST", "/v1/accounts/acc-1/tags", { tag: emoji })).json().tag).toBe(emoji);
    const list = (await viewer("/v1/tags")).json();
    expect(list).toEqual(
      expect.arrayContaining([
        { name: hostile, accounts: 0, users: 1, createdAt: expect.any(String) },
        { name: emoji, accounts: 1, users: 0, createdAt: expect.any(String) },
      ]),
    );
    expect(list).toHaveLength(2);
    expect((await viewer("/v1/users/u1")).json().tags.map((x: { name: string }) => x.name)).toEqual([
      hostile,
    ]);
    expect((await viewer("/v1/accounts/acc-1")).json().tags.map((x: { name: string }) => x.name)).toEqual([
      emoji,
    ]);
    const stored = await rows<{ name: string }>(t.database.db, sql`select name from tags order by id`);
    expect(stored.map((r) => r.name)).toEqual([hostile, emoji]);
    expect(await snapshot()).toEqual(before);
    const segment = await viewer(`/v1/segments/users?taggedWith=${encodeURIComponent(hostile)}`);
    expect(segment.json()).toMatchObject({ count: 1, rows: [{ id: "u1", tags: [hostile] }] });
    const removed = await editor("DELETE", `/v1/users/u1/tags/${encodeURIComponent(hostile)}`);
    expect(removed.json()).toMatchObject({ changed: true, tag: hostile, tags: [] });
    const emojiRemoved = await editor("DELETE", `/v1/accounts/acc-1/tags/${encodeURIComponent(emoji)}`);
    expect(emojiRemoved.json()).toMatchObject({ changed: true, tag: emoji });
    expect(await snapshot()).toEqual(before);
  });

  it("lists tags with counts per entity type and refuses renames and deletes with 409", async () => {
    await editor("POST", "/v1/users/u1/tags", { tag: "beta" });
    await editor("POST", "/v1/users/u2/tags", { tag: "Beta" });
    await editor("POST", "/v1/accounts/acc-2/tags", { tag: "beta" });
    expect((await viewer("/v1/tags")).json()).toEqual([
      { name: "beta", accounts: 1, users: 2, createdAt: expect.any(String) },
    ]);
    for (const method of ["PATCH", "PUT", "DELETE"] as const) {
      const res = await api.call(keys.admin, { method, url: "/v1/tags/beta", payload: { name: "gamma" } });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({
        error: {
          code: "tags_are_permanent",
          message: expect.stringContaining("tags are permanent"),
          tag: "beta",
        },
      });
    }
    expect((await viewer("/v1/tags")).json()[0].name).toBe("beta");
  });

  it("shows profiles: an account with its fields, tags, claims and users; a user with its account", async () => {
    await editor("POST", "/v1/accounts/acc-1/tags", { tag: "vip" });
    await editor("POST", "/v1/users/u2/tags", { tag: "beta" });
    const account = (await viewer("/v1/accounts/acc-1")).json();
    expect(account).toMatchObject({
      type: "account",
      id: "acc-1",
      name: "Account acc-1",
      contractStatus: "paying",
      healthScore: 35,
      health: "poor",
      attributes: { plan: "pro" },
      tags: [{ name: "vip", claims: [{ source: "manual", since: expect.any(String), actor: "editor-key" }] }],
      suppressions: [],
      userCount: 2,
      users: [
        { id: "u1", tags: [] },
        { id: "u2", tags: ["beta"] },
      ],
      usersNextCursor: null,
    });
    const user = (await viewer("/v1/users/u2")).json();
    expect(user).toMatchObject({
      type: "user",
      id: "u2",
      accountId: "acc-1",
      email: "u2@example.com",
      account: { id: "acc-1", name: "Account acc-1", tags: ["vip"] },
      tags: [{ name: "beta", claims: [{ source: "manual" }] }],
    });
    const page = (await viewer("/v1/accounts/acc-1/users?limit=1")).json();
    expect(page.users.map((u: { id: string }) => u.id)).toEqual(["u1"]);
    const next = (await viewer(`/v1/accounts/acc-1/users?limit=1&cursor=${page.nextCursor}`)).json();
    expect(next).toMatchObject({ users: [{ id: "u2" }], nextCursor: null });
    expect((await viewer("/v1/accounts/acc-1/users?cursor=nonsense")).json()).toMatchObject({
      error: { code: "invalid_cursor" },
    });
  });

  it("explains history, rule events included", async () => {
    await addActivity(t.database, { userId: "u1", accountId: "acc-1", days: lastDays("2026-03-31", 22) });
    const run = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/runs",
      payload: { asOf: "2026-03-31T12:00:00Z" },
    });
    expect(run.statusCode).toBe(200);
    expect(run.json()).toMatchObject({
      queued: false,
      results: [{ rule: "power-users", status: "applied", added: 1 }],
    });
    await editor("POST", "/v1/users/u1/tags", { tag: "power users" });
    await editor("DELETE", "/v1/users/u1/tags/power%20users");
    const history = (await viewer("/v1/users/u1/history")).json();
    expect(history.entries.map((e: { summary: string }) => e.summary)).toEqual([
      "lost the tag: removed by hand by editor-key (the rule:power-users claim)",
      "claim removed (manual): removed by hand by editor-key",
      "claim added (manual): added by hand by editor-key",
      expect.stringMatching(
        /^gained the tag: rule power-users version [0-9a-f]{8} as of 2026-03-31T12:00:00.000Z, conditions matched: activeDays\{"days":30\} = 22 /,
      ),
    ]);
    expect(history.entries[3]).toMatchObject({
      kind: "tag",
      action: "added",
      source: "rule:power-users",
      membershipChanged: true,
      rule: { id: "power-users", asOf: expect.stringContaining("2026-03-31T12:00:00") },
      explanation: { conditions: { all: [{ fact: "activeDays", factValue: 22, result: true }] } },
    });
  });

  it("runs only what changed later the same day, and every entity when asked for a full run", async () => {
    const run = (payload: Record<string, unknown>) =>
      api.call(keys.admin, {
        method: "POST",
        url: "/v1/runs",
        payload: { asOf: "2026-03-31T12:00:00Z", ...payload },
      });
    const first = (await run({})).json().results[0];
    expect(first).toMatchObject({ evaluated: 3 });
    expect(first.incrementalSince).toBeUndefined();
    const again = (await run({ asOf: "2026-03-31T13:00:00Z" })).json().results[0];
    expect(again).toMatchObject({ evaluated: 0, incrementalSince: expect.any(Number) });
    const full = await run({ asOf: "2026-03-31T14:00:00Z", full: true });
    expect(full.statusCode).toBe(200);
    expect(full.json().results[0]).toMatchObject({ evaluated: 3 });
    expect(full.json().results[0].incrementalSince).toBeUndefined();
  });

  it("answers membership as of a past date the same as replaying the history", async () => {
    const at: string[] = [];
    const mark = async () =>
      at.push((await rows<{ t: string }>(t.database.db, sql`select clock_timestamp()::text as t`))[0]!.t);
    await mark();
    await editor("POST", "/v1/users/u1/tags", { tag: "beta" });
    await editor("POST", "/v1/users/u2/tags", { tag: "beta" });
    await mark();
    await api.call(keys.admin, {
      method: "POST",
      url: "/v1/tags/bulk",
      payload: { action: "add", entityType: "user", tag: "beta", ids: ["u1", "u/3 é"] },
    });
    await editor("DELETE", "/v1/users/u2/tags/beta");
    await mark();
    await editor("DELETE", "/v1/users/u1/tags/beta");
    await mark();
    const replay = async (instant: string) => {
      const members: string[] = [];
      for (const id of ["u/3 é", "u1", "u2"]) {
        const entries = (
          await viewer(`/v1/users/${encodeURIComponent(id)}/history?tag=beta&limit=1000`)
        ).json().entries;
        const last = new Map<string, string>();
        for (const e of [...entries].reverse())
          if (Date.parse(e.at) <= Date.parse(instant)) last.set(e.source, e.action);
        if ([...last.values()].includes("added")) members.push(id);
      }
      return members.sort();
    };
    const expected = [[], ["u1", "u2"], ["u/3 é", "u1"], ["u/3 é"]];
    for (const [i, instant] of at.entries()) {
      const res = await viewer(
        `/v1/tags/beta/users?asOf=${encodeURIComponent(new Date(instant).toISOString())}`,
      );
      expect(res.statusCode).toBe(200);
      expect([...res.json().ids].sort(), instant).toEqual(expected[i]);
      expect(await replay(new Date(instant).toISOString())).toEqual(expected[i]);
    }
    expect((await viewer("/v1/tags/beta/users")).json().ids).toEqual(["u/3 é"]);
    expect((await viewer("/v1/tags/nope/users")).statusCode).toBe(404);
    expect((await viewer("/v1/tags/beta/users?asOf=yesterday")).json()).toMatchObject({
      error: { code: "invalid_input", field: "query.asOf" },
    });
  });
});
