import { gzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { rulesDir } from "../helpers/workspace.ts";

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

describe.skipIf(backendUnavailable())("usage over HTTP (Segment's tracking API)", () => {
  const t = useTestDatabase();
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([]) } });
  let ingestKey: string;
  let keys: Awaited<ReturnType<typeof api.createKeys>>;

  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(sql`truncate ingest_waiting`);
    keys = await api.createKeys();
    ingestKey = (await createApiKey(t.database.db, { name: "tracking", role: "ingest" })).key;
  });

  const send = (path: string, body: unknown, key = ingestKey) =>
    api.app.inject({
      method: "POST",
      url: path,
      headers: { authorization: basic(key) },
      payload: body as object,
    });

  const query = <T>(text: string) => rows<T>(t.database.db, sql.raw(text));

  it("stores identify, group and track as users, accounts, events and rollups", async () => {
    const res = await send("/v1/batch", {
      batch: [
        {
          type: "group",
          userId: "u1",
          groupId: "acme",
          traits: { name: "Acme", contractStatus: "paying", healthScore: 30, plan: "pro" },
        },
        {
          type: "identify",
          userId: "u1",
          traits: { email: "a@acme.test", name: "Ann", created_at: "2026-01-02T00:00:00Z", role: "admin" },
        },
        {
          type: "track",
          userId: "u1",
          event: "report viewed",
          messageId: "m1",
          timestamp: "2026-03-01T10:00:00Z",
          properties: { module: "reports", count: 3 },
        },
        {
          type: "track",
          userId: "u1",
          event: "report viewed",
          messageId: "m2",
          timestamp: "2026-03-01T11:00:00Z",
          properties: { module: "reports" },
        },
        { type: "page", userId: "u1", name: "Home" },
        { type: "track", anonymousId: "anon-1", event: "visited" },
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ success: true });
    const metrics = (await api.call(keys.admin, { method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(/signaltag_ingest_messages_total\{type="page",outcome="ignored"\} 1/);
    expect(metrics).toMatch(/signaltag_ingest_messages_total\{type="anonymous",outcome="ignored"\} 1/);
    expect(metrics).toMatch(/signaltag_ingest_messages_total\{type="track",outcome="committed"\} 2/);
    expect(
      await query(`select id, name, contract_status, health_score, health, attributes from accounts`),
    ).toEqual([
      {
        id: "acme",
        name: "Acme",
        contract_status: "paying",
        health_score: 30,
        health: "poor",
        attributes: { plan: "pro" },
      },
    ]);
    const [user] = await query<Record<string, unknown>>(
      `select id, account_id, email, name, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as created, attributes from users`,
    );
    expect(user).toEqual({
      id: "u1",
      account_id: "acme",
      email: "a@acme.test",
      name: "Ann",
      created: "2026-01-02",
      attributes: { role: "admin" },
    });
    expect(
      await query(
        `select event_id, user_id, account_id, activity, module, count, received_at is not null as received from activity_events order by event_id`,
      ),
    ).toEqual([
      {
        event_id: "m1",
        user_id: "u1",
        account_id: "acme",
        activity: "report viewed",
        module: "reports",
        count: 3,
        received: true,
      },
      {
        event_id: "m2",
        user_id: "u1",
        account_id: "acme",
        activity: "report viewed",
        module: "reports",
        count: 1,
        received: true,
      },
    ]);
    expect(
      await query(
        `select entity_type, entity_id, day::text as day, activity, module, count::int as count from activity_daily order by 1, 2`,
      ),
    ).toEqual([
      {
        entity_type: "account",
        entity_id: "acme",
        day: "2026-03-01",
        activity: "report viewed",
        module: "reports",
        count: 4,
      },
      {
        entity_type: "user",
        entity_id: "u1",
        day: "2026-03-01",
        activity: "report viewed",
        module: "reports",
        count: 4,
      },
    ]);
  });

  it("changes nothing when the same messages are sent again", async () => {
    const batch = {
      batch: [
        { type: "group", userId: "u1", groupId: "acme", traits: { name: "Acme" } },
        { type: "identify", userId: "u1", traits: { email: "a@acme.test" } },
        { type: "track", userId: "u1", event: "login", messageId: "m1", timestamp: "2026-03-01T10:00:00Z" },
      ],
    };
    expect((await send("/v1/batch", batch)).statusCode).toBe(200);
    const snapshot = async () => ({
      events: await query(`select count(*)::int as n from activity_events`),
      daily: await query(`select entity_id, count::int as n from activity_daily order by 1`),
      changes: await query(`select count(*)::int as n from entity_changes`),
      users: await query(`select id, email, created_at, updated_at from users`),
    });
    const before = await snapshot();
    expect((await send("/v1/batch", batch)).statusCode).toBe(200);
    expect(await snapshot()).toEqual(before);
  });

  it("stores the rest of a batch with a bad message and names the bad one by index", async () => {
    const res = await send("/v1/batch", {
      batch: [
        { type: "group", groupId: "acme", traits: {} },
        { type: "track", event: "login", timestamp: "2026-03-01T10:00:00Z" },
        { type: "track", context: { groupId: "acme" }, event: "export", timestamp: "yesterday" },
        {
          type: "track",
          context: { groupId: "acme" },
          event: "export",
          messageId: "ok",
          timestamp: "2026-03-01T10:00:00Z",
        },
      ],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe("invalid_message");
    expect(body.error.message).toMatch(/^batch\[1\]: a track message needs a userId or context.groupId/);
    expect(body.error.invalid.map((p: { index: number }) => p.index)).toEqual([1, 2]);
    expect(body.error.invalid[1].message).toMatch(/timestamp must be an ISO-8601/);
    expect(await query(`select event_id, user_id, account_id from activity_events`)).toEqual([
      { event_id: "ok", user_id: null, account_id: "acme" },
    ]);
  });

  it("answers wrong and missing keys with 401, a viewer key with 403, and keeps an ingest key to ingestion", async () => {
    const msg = { userId: "u1", event: "login" };
    expect((await api.app.inject({ method: "POST", url: "/v1/track", payload: msg })).statusCode).toBe(401);
    expect((await send("/v1/track", msg, "stk_not-a-key")).statusCode).toBe(401);
    expect((await send("/v1/track", msg, keys.viewer)).statusCode).toBe(403);
    expect((await send("/v1/track", msg, keys.editor)).statusCode).toBe(403);
    expect((await api.call(keys.admin, { method: "POST", url: "/v1/track", payload: msg })).statusCode).toBe(
      200,
    );
    expect((await api.call(ingestKey, { method: "POST", url: "/v1/track", payload: msg })).statusCode).toBe(
      200,
    );
    expect((await api.call(ingestKey, { method: "GET", url: "/v1/tags" })).statusCode).toBe(403);
    // Segment's API also takes the write key in the body, when no Authorization header is sent.
    const inBody = (writeKey: string) =>
      api.app.inject({
        method: "POST",
        url: "/v1/batch",
        payload: { writeKey, batch: [{ type: "track", ...msg }] },
      });
    expect((await inBody(ingestKey)).statusCode).toBe(200);
    expect((await inBody("stk_not-a-key")).statusCode).toBe(401);
    expect((await inBody(keys.viewer)).statusCode).toBe(403);
  });

  it("creates an ingest key with keys create --role ingest, usable as a Segment write key", async () => {
    const created = await runCli(t.database, ["keys", "create", "--name", "app", "--role", "ingest"]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/created ingest key .*Segment write key/);
    const key = created.stdout.trim();
    expect((await send("/v1/group", { groupId: "acme", traits: {} }, key)).statusCode).toBe(200);
    expect((await api.call(key, { method: "GET", url: "/v1/accounts/acme" })).statusCode).toBe(403);
    const wrong = await runCli(t.database, ["keys", "create", "--name", "x", "--role", "writer"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/--role must be viewer, editor, admin or ingest/);
  });

  it("refuses a message over 32 KB and a request over 500 KB with 400 naming the limit", async () => {
    const big = "x".repeat(33 * 1024);
    const single = await send("/v1/track", { userId: "u1", event: "login", properties: { big } });
    expect(single.statusCode).toBe(400);
    expect(single.json().error.message).toMatch(/32 KB/);
    const inBatch = await send("/v1/batch", {
      batch: [{ type: "track", userId: "u1", event: "login", properties: { big } }],
    });
    expect(inBatch.statusCode).toBe(400);
    expect(inBatch.json().error.message).toMatch(/^batch\[0\]: .*32 KB/);
    const many = Array.from({ length: 20 }, () => ({
      type: "track",
      userId: "u1",
      event: "login",
      properties: { big: "y".repeat(30 * 1024) },
    }));
    const whole = await send("/v1/batch", { batch: many });
    expect(whole.statusCode).toBe(400);
    expect(whole.json().error.message).toMatch(/500 KB/);
    expect(await query(`select count(*)::int as n from activity_events`)).toEqual([{ n: 0 }]);
  });

  it("keeps a track for an unknown user waiting and counts it once the user is identified", async () => {
    const track = { userId: "late", event: "login", messageId: "e1", timestamp: "2026-03-01T10:00:00Z" };
    expect((await send("/v1/track", track)).statusCode).toBe(200);
    expect(await query(`select count(*)::int as n from activity_events`)).toEqual([{ n: 0 }]);
    expect(await query(`select count(*)::int as n from activity_daily`)).toEqual([{ n: 0 }]);
    const metrics = await api.call(keys.admin, { method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/signaltag_ingest_waiting_messages\{kind="track"\} 1/);

    // The identify names an account not known yet: it waits too, until the group comes.
    expect(
      (
        await send("/v1/identify", {
          userId: "late",
          context: { groupId: "newco" },
          traits: { email: "l@x.test" },
        })
      ).statusCode,
    ).toBe(200);
    expect(await query(`select count(*)::int as n from users`)).toEqual([{ n: 0 }]);
    expect((await send("/v1/track", track)).statusCode).toBe(200);
    const rules = rulesDir([]);
    const status = await runCli(t.database, ["status", "--json"], { SIGNALTAG_RULES_DIR: rules });
    expect(JSON.parse(status.stdout).ingestWaiting).toMatchObject({
      events: 1,
      identifies: 1,
      memberships: 0,
    });
    expect((await runCli(t.database, ["status"], { SIGNALTAG_RULES_DIR: rules })).stdout).toMatch(
      /ingestion: 1 events, 1 identifies and 0 memberships wait for their user or account \(oldest \d+ s\)/,
    );
    expect(await query(`select kind, count(*)::int as n from ingest_waiting group by 1 order by 1`)).toEqual([
      { kind: "identify", n: 1 },
      { kind: "track", n: 1 },
    ]);

    expect((await send("/v1/group", { groupId: "newco", traits: { name: "NewCo" } })).statusCode).toBe(200);
    expect(await query(`select id, account_id, email from users`)).toEqual([
      { id: "late", account_id: "newco", email: "l@x.test" },
    ]);
    expect(await query(`select event_id, user_id, account_id from activity_events`)).toEqual([
      { event_id: "e1", user_id: "late", account_id: "newco" },
    ]);
    expect(await query(`select entity_type, count::int as n from activity_daily order by 1`)).toEqual([
      { entity_type: "account", n: 1 },
      { entity_type: "user", n: 1 },
    ]);
    expect(await query(`select count(*)::int as n from ingest_waiting`)).toEqual([{ n: 0 }]);
  });

  it("takes what Segment's Webhooks (Actions) destination posts: one message, or an array of them", async () => {
    const one = { type: "group", groupId: "acme", traits: { name: "Acme" }, messageId: "g1" };
    expect((await send("/v1/batch", one)).statusCode).toBe(200);
    const res = await send("/v1/batch", [
      { type: "track", context: { groupId: "acme" }, event: "export", messageId: "w1" },
      { type: "track", event: "export" },
    ]);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/^batch\[1\]: /);
    expect(await query(`select event_id, account_id from activity_events`)).toEqual([
      { event_id: "w1", account_id: "acme" },
    ]);
  });

  it("takes a gzipped batch", async () => {
    const body = gzipSync(
      JSON.stringify({
        batch: [
          { type: "group", groupId: "acme", traits: {} },
          { type: "track", context: { groupId: "acme" }, event: "zipped" },
        ],
      }),
    );
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batch",
      headers: {
        authorization: basic(ingestKey),
        "content-type": "application/json",
        "content-encoding": "gzip",
      },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(await query(`select activity from activity_events`)).toEqual([{ activity: "zipped" }]);
  });

  it("corrects the client's clock skew from sentAt and keeps the timestamp as given without it", async () => {
    const received = Date.now();
    // The client's clock runs an hour fast: it sent one minute after the event, by its clock.
    const res = await send("/v1/batch", {
      sentAt: new Date(received + 3_600_000).toISOString(),
      batch: [
        { type: "group", groupId: "acme", traits: {} },
        {
          type: "track",
          context: { groupId: "acme" },
          event: "skewed",
          timestamp: new Date(received + 3_540_000).toISOString(),
        },
      ],
    });
    expect(res.statusCode).toBe(200);
    await send("/v1/track", {
      context: { groupId: "acme" },
      event: "as given",
      timestamp: "2026-02-01T00:00:00.000Z",
    });
    const [skewed] = await query<{ ms: number }>(
      `select (extract(epoch from occurred_at) * 1000)::float8 as ms from activity_events where activity = 'skewed'`,
    );
    expect(Math.abs(Number(skewed!.ms) - (received - 60_000))).toBeLessThan(5_000);
    expect(
      await query(
        `select occurred_at = '2026-02-01T00:00:00Z' as exact from activity_events where activity = 'as given'`,
      ),
    ).toEqual([{ exact: true }]);
  });
});
