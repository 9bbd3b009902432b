import type { FastifyInstance } from "fastify";
import postgres from "postgres";
import { beforeEach, describe, expect, it } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { loadConfig } from "../../src/config.ts";
import { openPostgres } from "../../src/db/client.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { MAX_CONDITIONS } from "../../src/limits.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { addAccount, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

/*
 * The API's two time limits (docs/limits.md), made deterministic: a segment
 * budget of 0 ms refuses any evaluation, and a statement that waits on a lock
 * the test holds is cancelled by statement_timeout whatever the machine's speed.
 */
const T = "2026-03-31T12:00:00.000Z";
const test = { fact: "activeDays", params: { days: 30 }, operator: "greaterThan", value: 1 };
const noSql = /failed query|select .* from |insert into|\$1|params:/i;

/**
 * An access exclusive lock on `table`, taken by a connection of its own and
 * held until release(): the server's statements on it wait, deterministically.
 */
async function holdLock(url: string, table: string): Promise<{ release: () => Promise<void> }> {
  const holder = postgres(url, { max: 1, onnotice: () => {} });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked = () => {};
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holding = holder.begin(async (tx) => {
    await tx.unsafe(`lock table ${table} in access exclusive mode`);
    locked();
    await released;
  });
  await lockTaken;
  let done: Promise<void> | undefined;
  return {
    release: () => {
      done ??= (async () => {
        release();
        await holding;
        await holder.end();
      })();
      return done;
    },
  };
}

describe.skipIf(backendUnavailable())("the API's time limits", () => {
  const t = useTestDatabase();
  const env = { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) };
  const api = useApi(t, { env, clock: () => new Date(T) });
  const noBudget = useApi(t, { env: { ...env, SIGNALTAG_SEGMENT_BUDGET_MS: "0" }, clock: () => new Date(T) });
  let keys: Record<Role, string>;

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-0" });
    await t.database.db.execute(`
      insert into users (id, account_id, email, created_at)
      select 'u' || lpad(i::text, 5, '0'), 'acc-0', 'u' || i || '@example.com', '2025-01-01T00:00:00Z'::timestamptz
      from generate_series(1, 1000) i`);
    keys = await api.createKeys();
  });

  it("answers a segment query past its evaluation budget with a clear 400, and within it with the rows", async () => {
    const body = { conditions: { any: [test] } };
    const refused = await noBudget.call(keys.viewer, {
      method: "POST",
      url: "/v1/segments/users/query",
      payload: body,
    });
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json().error).toMatchObject({
      code: "segment_too_slow",
      field: "conditions",
      budgetMs: 0,
    });
    expect(refused.json().error.message).toContain("narrow the query");
    expect(refused.body).not.toMatch(noSql);
    const csv = await noBudget.call(keys.viewer, {
      method: "GET",
      url: `/v1/segments/users?conditions=${encodeURIComponent(JSON.stringify(body.conditions))}&format=csv`,
    });
    expect(csv.statusCode).toBe(400);
    expect(csv.json().error.code).toBe("segment_too_slow");
    const answered = await api.call(keys.viewer, {
      method: "POST",
      url: "/v1/segments/users/query",
      payload: body,
    });
    expect(answered.statusCode, answered.body).toBe(200);
  });
});

describe.skipIf(backendUnavailable() || testBackend() !== "postgres")(
  "a segment query waiting on Postgres",
  () => {
    const t = useTestDatabase();
    const api = useApi(t, {
      env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) },
      clock: () => new Date(T),
    });

    it("keeps answering /health while a segment query's conditions are evaluated", async () => {
      await t.reset();
      await addAccount(t.database, { id: "acc-0" });
      await t.database.db.execute(`
      insert into users (id, account_id, email, created_at)
      select 'u' || lpad(i::text, 5, '0'), 'acc-0', 'u' || i || '@example.com', '2025-01-01T00:00:00Z'::timestamptz
      from generate_series(1, 1000) i`);
      const keys = await api.createKeys();
      // Conditions are evaluated by SQL statements, so the server waits on Postgres, not on its own
      // event loop: held here behind a lock on the activity summary, deterministically, until /health
      // has been answered several times.
      const lock = await holdLock(t.url!, "activity_summary");
      try {
        const conditions = { any: Array.from({ length: MAX_CONDITIONS - 1 }, () => test) };
        let segmentDone = false;
        const segment = api
          .call(keys.viewer, { method: "POST", url: "/v1/segments/users/query", payload: { conditions } })
          .finally(() => {
            segmentDone = true;
          });
        let answeredDuring = 0;
        while (!segmentDone && answeredDuring < 3) {
          const health = await api.call(undefined, { method: "GET", url: "/health" });
          expect(health.statusCode).toBe(200);
          if (!segmentDone) answeredDuring++;
        }
        expect(answeredDuring).toBe(3);
        await lock.release();
        const answered = await segment;
        expect(answered.statusCode, answered.body).toBe(200);
        expect(answered.json().count).toBe(0);
      } finally {
        await lock.release();
      }
    });
  },
);

describe.skipIf(backendUnavailable() || testBackend() !== "postgres")("the API's statement_timeout", () => {
  const t = useTestDatabase();

  it("answers a statement cancelled by statement_timeout with a clear 503 and no SQL", async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-0" });
    const { key } = await createApiKey(t.database.db, { name: "viewer", role: "viewer" });
    // The server's own pool, as `serve` opens it, with a short statement_timeout.
    const database = await openPostgres(t.url!, { max: 2, statementTimeoutMs: 300 });
    let app: FastifyInstance | undefined;
    const lock = await holdLock(t.url!, "claims");
    try {
      app = await buildServer({ database, config: loadConfig({}), logger: false });
      const res = await app.inject({
        method: "GET",
        url: "/v1/accounts/acc-0",
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toEqual({
        error: {
          code: "statement_timeout",
          message: expect.stringContaining("took longer than this server allows"),
        },
      });
      expect(res.body).not.toMatch(noSql);
    } finally {
      await lock.release();
      await app?.close();
      await database.close();
    }
  });
});
