import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { openIngest, type WriteOutcome } from "../../src/ingest/index.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/queue.ts";
import { addAccount, addUser } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("messages waiting for an entity that a file import brings", () => {
  const t = useTestDatabase();

  it("applies them within a sweep, with no message of their own", async () => {
    await t.reset();
    await t.database.db.execute(sql`truncate ingest_waiting`);
    const touched: WriteOutcome["touched"][] = [];
    const ingest = openIngest(t.database, {
      timezone: "UTC",
      sweepMs: 50,
      committed: (o) => touched.push(o.touched),
    });
    try {
      const ctx = { receivedAt: Date.now() };
      await ingest.accept(
        [
          {
            type: "track",
            userId: "imported",
            event: "login",
            messageId: "w1",
            timestamp: "2026-03-01T00:00:00Z",
          },
          {
            type: "track",
            context: { groupId: "acct" },
            event: "billing",
            messageId: "w2",
            timestamp: "2026-03-01T00:00:00Z",
          },
          { type: "identify", userId: "later", context: { groupId: "acct" }, traits: { email: "l@x.test" } },
        ],
        ctx,
      );
      expect(await rows(t.database.db, sql`select kind from ingest_waiting order by kind`)).toEqual([
        { kind: "identify" },
        { kind: "track" },
        { kind: "track" },
      ]);
      // As `signaltag import accounts` and `import users` would: no message names them.
      await addAccount(t.database, { id: "acct" });
      await addUser(t.database, { id: "imported", accountId: "acct" });
      await waitFor("the sweep to apply what waited", async () => {
        const [n] = await rows<{ n: number }>(
          t.database.db,
          sql`select count(*)::int as n from ingest_waiting`,
        );
        return n?.n === 0;
      });
      expect(
        await rows(
          t.database.db,
          sql`select event_id, user_id, account_id from activity_events order by event_id`,
        ),
      ).toEqual([
        { event_id: "w1", user_id: "imported", account_id: "acct" },
        { event_id: "w2", user_id: null, account_id: "acct" },
      ]);
      expect(
        await rows(t.database.db, sql`select id, account_id, email from users where id = 'later'`),
      ).toEqual([{ id: "later", account_id: "acct", email: "l@x.test" }]);
      expect(
        await rows(
          t.database.db,
          sql`select entity_type, entity_id, activity, count::int as n from activity_daily order by 1, 2, 3`,
        ),
      ).toEqual([
        { entity_type: "account", entity_id: "acct", activity: "billing", n: 1 },
        { entity_type: "account", entity_id: "acct", activity: "login", n: 1 },
        { entity_type: "user", entity_id: "imported", activity: "login", n: 1 },
      ]);
      expect(touched.flatMap((x) => x.users).sort()).toEqual(["imported", "later"]);
    } finally {
      await ingest.close();
    }
  });

  it("applies a waiting identify's fields to a user a file import brought, and keeps only its account move waiting", async () => {
    await t.reset();
    await t.database.db.execute(sql`truncate ingest_waiting`);
    const ingest = openIngest(t.database, { timezone: "UTC", sweepMs: 50 });
    try {
      await ingest.accept(
        [
          {
            type: "identify",
            userId: "dee",
            context: { groupId: "later-co" },
            traits: { email: "d@x.test" },
          },
        ],
        { receivedAt: Date.now() },
      );
      await addAccount(t.database, { id: "first-co" });
      await addUser(t.database, { id: "dee", accountId: "first-co" });
      const waiting = () =>
        rows(t.database.db, sql`select kind, user_id, account_id from ingest_waiting order by id`);
      await waitFor("the sweep to apply the identify's fields", async () => {
        const [w] = await waiting();
        return w?.kind === "member";
      });
      expect(await waiting()).toEqual([{ kind: "member", user_id: "dee", account_id: "later-co" }]);
      expect(await rows(t.database.db, sql`select account_id, email from users where id = 'dee'`)).toEqual([
        { account_id: "first-co", email: "d@x.test" },
      ]);
      await ingest.accept([{ type: "group", groupId: "later-co", traits: {} }], { receivedAt: Date.now() });
      expect(await rows(t.database.db, sql`select account_id from users where id = 'dee'`)).toEqual([
        { account_id: "later-co" },
      ]);
      expect(await waiting()).toEqual([]);
    } finally {
      await ingest.close();
    }
  });
});
