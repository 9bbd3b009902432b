import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

/** The SQLSTATE of a failed statement, wherever the driver put it. */
async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run();
  } catch (err) {
    for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code))
        return { code, message: String((e as { message?: unknown }).message) };
    }
    throw err;
  }
  throw new Error("the statement succeeded");
}

describe.skipIf(backendUnavailable())("tag references", () => {
  const t = useTestDatabase();

  it("refuses claims and tag events that name a tag that does not exist, and keeps the rest of the statement out", async () => {
    const db = t.database.db;
    await db.execute(sql`truncate tags, claims, tag_events restart identity cascade`);
    await db.execute(sql`insert into tags (name) values ('VIP')`);
    const claim = await failure(() =>
      db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
        values ('manual', 1, 'user', 'u1'), ('manual', 999, 'user', 'u2')`),
    );
    expect(claim.code).toBe("23503");
    expect(claim.message).toMatch(/tag 999 does not exist/);
    const event = await failure(() =>
      db.execute(sql`insert into tag_events (entity_type, entity_id, tag_id, action, source, membership_changed)
        values ('user', 'u1', 998, 'added', 'manual', true)`),
    );
    expect(event.code).toBe("23503");
    const [n] = await rows<{ claims: number; events: number }>(
      db,
      sql`select (select count(*) from claims)::int as claims, (select count(*) from tag_events)::int as events`,
    );
    expect(n).toEqual({ claims: 0, events: 0 });

    await db.execute(
      sql`insert into claims (source, tag_id, entity_type, entity_id) values ('manual', 1, 'user', 'u1')`,
    );
    expect((await failure(() => db.execute(sql`update claims set tag_id = 997`))).code).toBe("23503");
  });

  it("keeps tags permanent: none can be deleted or renumbered, though other columns may change", async () => {
    const db = t.database.db;
    await db.execute(sql`truncate tags, claims, tag_events restart identity cascade`);
    await db.execute(sql`insert into tags (name) values ('VIP')`);
    expect((await failure(() => db.execute(sql`delete from tags`))).code).toBe("23001");
    // The id is an identity column Postgres itself keeps from being overwritten (428C9).
    expect(["23001", "428C9"]).toContain((await failure(() => db.execute(sql`update tags set id = 5`))).code);
    await db.execute(sql`update tags set name = name`);
    const [tag] = await rows<{ id: number; name: string }>(db, sql`select id, name from tags`);
    expect(tag).toEqual({ id: 1, name: "VIP" });
  });
});
