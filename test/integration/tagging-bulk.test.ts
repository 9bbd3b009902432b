import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { bulkTag, MAX_BULK_IDS } from "../../src/tags/bulk.ts";
import { noTagHooks } from "../../src/tags/changes.ts";
import { applyTag } from "../../src/tags/manual.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { addAccount, countRows } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("tagging in bulk", () => {
  const t = useTestDatabase();
  const userIds = (n: number) => Array.from({ length: n }, (_, i) => `u${String(i + 1).padStart(6, "0")}`);

  async function addUsers(n: number) {
    await t.database.db.execute(sql`
      insert into users (id, account_id, created_at)
      select 'u' || lpad(i::text, 6, '0'), 'acc-1', '2025-01-01T00:00:00Z'::timestamptz
      from generate_series(1, ${n}) i`);
  }

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
  });

  it("adds bulk claims to every listed entity and counts what changed", async () => {
    await addUsers(5);
    await applyTag(t.database.db, { type: "user", id: "u000002", tag: "beta", actor: "alice" }, noTagHooks);
    const result = await bulkTag(
      t.database.db,
      {
        action: "add",
        type: "user",
        tag: "Beta",
        ids: ["u000001", "u000002", "u000003", "u000003"],
        actor: "admin",
      },
      noTagHooks,
    );
    expect(result).toEqual({
      action: "add",
      entityType: "user",
      tag: "beta",
      requested: 3,
      claimsChanged: 3,
      membershipsChanged: 2,
      unchanged: 0,
    });
    const claims = await rows<{ entity_id: string; source: string }>(
      t.database.db,
      sql`select entity_id, source from claims order by entity_id, source`,
    );
    expect(claims).toEqual([
      { entity_id: "u000001", source: "bulk" },
      { entity_id: "u000002", source: "bulk" },
      { entity_id: "u000002", source: "manual" },
      { entity_id: "u000003", source: "bulk" },
    ]);
    const again = await bulkTag(
      t.database.db,
      {
        action: "add",
        type: "user",
        tag: "beta",
        ids: ["u000001"],
        actor: "admin",
      },
      noTagHooks,
    );
    expect(again).toMatchObject({ claimsChanged: 0, unchanged: 1 });
  });

  it("refuses the whole request when an id is unknown, and lists every unknown id", async () => {
    await addUsers(3);
    const attempt = bulkTag(
      t.database.db,
      {
        action: "add",
        type: "user",
        tag: "beta",
        ids: ["u000001", "ghost-2", "u000002", "ghost-1"],
        actor: "admin",
      },
      noTagHooks,
    );
    await expect(attempt).rejects.toMatchObject({
      code: "unknown_ids",
      details: { unknownIds: ["ghost-1", "ghost-2"] },
    });
    expect(await countRows(t.database, "claims")).toBe(0);
    expect(await countRows(t.database, "tag_events")).toBe(0);
  });

  it("refuses more ids than one request may carry before touching the database", async () => {
    const ids = userIds(MAX_BULK_IDS + 1);
    await expect(
      bulkTag(t.database.db, { action: "add", type: "user", tag: "beta", ids, actor: "admin" }, noTagHooks),
    ).rejects.toMatchObject({ code: "too_many_ids" });
  });

  it("removes every claim on the tag from each listed entity", async () => {
    await addUsers(3);
    await bulkTag(
      t.database.db,
      {
        action: "add",
        type: "user",
        tag: "beta",
        ids: userIds(3),
        actor: "admin",
      },
      noTagHooks,
    );
    await applyTag(t.database.db, { type: "user", id: "u000001", tag: "beta", actor: "alice" }, noTagHooks);
    const result = await bulkTag(
      t.database.db,
      {
        action: "remove",
        type: "user",
        tag: "beta",
        ids: ["u000001", "u000002"],
        actor: "admin",
      },
      noTagHooks,
    );
    expect(result).toMatchObject({ claimsChanged: 3, membershipsChanged: 2, unchanged: 0 });
    expect(await rows(t.database.db, sql`select entity_id, source from claims`)).toEqual([
      { entity_id: "u000003", source: "bulk" },
    ]);
  });

  it("tags 100,000 users in one request", async () => {
    await addUsers(MAX_BULK_IDS);
    const ids = userIds(MAX_BULK_IDS);
    const started = Date.now();
    const result = await bulkTag(
      t.database.db,
      {
        action: "add",
        type: "user",
        tag: "all",
        ids,
        actor: "admin",
      },
      noTagHooks,
    );
    const ms = Date.now() - started;
    expect(result).toMatchObject({ requested: MAX_BULK_IDS, claimsChanged: MAX_BULK_IDS });
    expect(await countRows(t.database, "tag_events")).toBe(MAX_BULK_IDS);
    const removed = await bulkTag(
      t.database.db,
      {
        action: "remove",
        type: "user",
        tag: "all",
        ids,
        actor: "admin",
      },
      noTagHooks,
    );
    expect(removed).toMatchObject({ claimsChanged: MAX_BULK_IDS, membershipsChanged: MAX_BULK_IDS });
    expect(await countRows(t.database, "claims")).toBe(0);
    expect(ms).toBeLessThan(testBackend() === "postgres" ? 20_000 : 60_000);
  }, 120_000);
});
