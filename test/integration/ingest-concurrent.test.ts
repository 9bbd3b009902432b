import { Readable } from "node:stream";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { importEvents } from "../../src/imports/index.ts";
import { mapMessage } from "../../src/ingest/mapping.ts";
import { type Accepted, writeMessages } from "../../src/ingest/write.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/queue.ts";
import { addAccount, addUser } from "../helpers/workspace.ts";

/*
 * The tracking API's commits run side by side on Postgres (the embedded
 * database has one connection): whatever their interleaving, the rollups,
 * the activity summaries and the change log must come out as if the same
 * messages had been written one at a time, a deadlock among them must be
 * retried rather than reach a client, and a file import must still exclude
 * them.
 */
describe.skipIf(backendUnavailable() || testBackend() !== "postgres")("tracking commits side by side", () => {
  const t = useTestDatabase();
  const clients: postgres.Sql[] = [];
  afterAll(async () => {
    for (const c of clients) await c.end();
  });

  const USERS = Array.from({ length: 12 }, (_, i) => `u${String(i).padStart(2, "0")}`);
  const accountOf = (user: string) => `a${Number(user.slice(1)) % 3}`;

  async function workspace(): Promise<void> {
    await t.reset();
    await t.database.db.execute(sql`truncate entity_changes, ingest_waiting`);
    for (const a of ["a0", "a1", "a2"]) await addAccount(t.database, { id: a });
    for (const u of USERS) await addUser(t.database, { id: u, accountId: accountOf(u) });
  }

  interface Track {
    user: string;
    activity: string;
    module: string;
    day: number;
    id: string;
  }

  /** A deterministic shuffle of tracks on few users, activities and days: many commits share keys and entities. */
  function tracks(n: number, seed: number, prefix: string): Track[] {
    let s = seed;
    const next = (k: number) => {
      s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
      return s % k;
    };
    return Array.from({ length: n }, (_, i) => ({
      user: USERS[next(USERS.length)]!,
      activity: ["login", "export"][next(2)]!,
      module: ["reports", "billing"][next(2)]!,
      day: 1 + next(5),
      id: `${prefix}-${i}`,
    }));
  }

  const occurredAt = (tr: Track) => `2026-03-0${tr.day}T${String(tr.day * 3).padStart(2, "0")}:00:00Z`;

  function message(tr: Track) {
    return {
      type: "track",
      userId: tr.user,
      event: tr.activity,
      properties: { module: tr.module },
      messageId: tr.id,
      timestamp: occurredAt(tr),
    };
  }

  function accepted(raw: readonly unknown[]): Accepted[] {
    const receivedAt = Date.parse("2026-03-06T00:00:00Z");
    return raw.map((m, i) => {
      const outcome = mapMessage(m, i, { receivedAt });
      if (!outcome.ok || outcome.mapped.type === "ignored") throw new Error(`message ${i} is not stored`);
      return { mapped: outcome.mapped, receivedAt: new Date(receivedAt).toISOString() };
    });
  }

  /** Batches of 40 tracks over the same users and days; every fourth repeats its neighbour's messages (a client's retry). */
  function batches(count: number): Track[][] {
    const out: Track[][] = [];
    for (let b = 0; b < count; b++) {
      out.push(b % 4 === 3 ? [...out[b - 1]!].reverse() : tracks(40, b + 1, `b${b}`));
    }
    return out;
  }

  async function state() {
    const db = t.database.db;
    return {
      rollups: await rows(
        db,
        sql`select entity_type, entity_id, day::text, activity, module, count::int from activity_daily
            order by 1, 2, 3, 4, 5`,
      ),
      summaries: await rows(
        db,
        sql`select entity_type, entity_id, first_day::text, last_day::text, days::text from activity_summary
            order by 1, 2`,
      ),
      logged: await rows(
        db,
        sql`select distinct entity_type, entity_id from entity_changes where kind = 'activity' order by 1, 2`,
      ),
      events: await rows(
        db,
        sql`select event_id, user_id, account_id, activity, module, occurred_at::text, count from activity_events
            order by event_id`,
      ),
    };
  }

  /** A connection of the test's own, outside the pool the code under test uses. */
  async function ownConnection(): Promise<postgres.ReservedSql> {
    if (!t.url) throw new Error("a Postgres test database has a URL");
    const client = postgres(t.url, { max: 1, onnotice: () => {} });
    clients.push(client);
    return client.reserve();
  }

  /** Backends of this database other than `except` that wait for a lock, with their query. */
  async function lockWaiters(except: number): Promise<string[]> {
    const found = await rows<{ query: string }>(
      t.database.db,
      sql`select query from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and pid <> ${except}`,
    );
    return found.map((r) => r.query);
  }

  /** Resolves with "done" when `work` settles first, "waits" when a backend is seen waiting for a lock first. */
  async function doneOrWaiting(work: Promise<unknown>, except: number): Promise<"done" | "waits"> {
    let settled = false;
    const watched = work.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    for (;;) {
      if (settled) return "done";
      if ((await lockWaiters(except)).length > 0) return settled ? "done" : "waits";
      await Promise.race([watched, new Promise((r) => setTimeout(r, 20))]);
    }
  }

  it("stores concurrent commits on shared users, keys and days exactly as one at a time, and as a file import", async () => {
    const all = batches(24);
    const distinct = new Set(all.flat().map((tr) => tr.id)).size;

    await workspace();
    const outcomes = await Promise.all(
      all.map((b) => writeMessages(t.database, accepted(b.map(message)), "UTC")),
    );
    const concurrent = await state();
    expect(outcomes.reduce((n, o) => n + o.eventsStored, 0)).toBe(distinct);
    expect(concurrent.events).toHaveLength(distinct);

    await workspace();
    for (const b of all) await writeMessages(t.database, accepted(b.map(message)), "UTC");
    const oneAtATime = await state();
    expect(concurrent).toEqual(oneAtATime);

    // The same events as a file: the rollups and summaries a file import makes of them.
    await workspace();
    const unique = [...new Map(all.flat().map((tr) => [tr.id, tr])).values()];
    const csv = [
      "user_id,account_id,activity,module,occurred_at,count,event_id",
      ...unique.map(
        (tr) => `${tr.user},${accountOf(tr.user)},${tr.activity},${tr.module},${occurredAt(tr)},1,${tr.id}`,
      ),
    ].join("\n");
    await importEvents(
      t.database,
      { stream: Readable.from([csv]), format: "csv", name: "events.csv" },
      { timezone: "UTC" },
    );
    const imported = await state();
    expect(imported.rollups).toEqual(concurrent.rollups);
    expect(imported.summaries).toEqual(concurrent.summaries);
    expect(imported.logged).toEqual(concurrent.logged);
  });

  it("keeps a file import exact while commits run beside it, and the import waits for commits in flight", async () => {
    const http = batches(16);
    const file = tracks(300, 99, "file");
    const csv = [
      "user_id,account_id,activity,module,occurred_at,count,event_id",
      ...file.map(
        (tr) => `${tr.user},${accountOf(tr.user)},${tr.activity},${tr.module},${occurredAt(tr)},1,${tr.id}`,
      ),
    ].join("\n");
    const importFile = () =>
      importEvents(
        t.database,
        { stream: Readable.from([csv]), format: "csv", name: "events.csv" },
        { timezone: "UTC" },
      );

    await workspace();
    await importFile();
    for (const b of http) await writeMessages(t.database, accepted(b.map(message)), "UTC");
    const oneAtATime = await state();

    await workspace();
    const results = await Promise.all([
      ...http.slice(0, 8).map((b) => writeMessages(t.database, accepted(b.map(message)), "UTC")),
      importFile(),
      ...http.slice(8).map((b) => writeMessages(t.database, accepted(b.map(message)), "UTC")),
    ]);
    expect(results).toHaveLength(17);
    expect(await state()).toEqual(oneAtATime);

    // A commit in flight holds the rollups as an insert does: other commits go on, an import waits.
    await workspace();
    const inFlight = await ownConnection();
    const [{ pid }] = await inFlight<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await inFlight`begin`;
    await inFlight`lock table activity_daily in row exclusive mode`;
    const commit = writeMessages(t.database, accepted(http[0]!.map(message)), "UTC");
    expect(await doneOrWaiting(commit, pid!)).toBe("done");
    await commit;
    const imported = importFile();
    expect(await doneOrWaiting(imported, pid!)).toBe("waits");
    await inFlight`commit`;
    inFlight.release();
    await imported;
    const [counted] = await rows<{ n: number }>(
      t.database.db,
      sql`select count(*)::int as n from activity_events where event_id like 'file-%'`,
    );
    expect(counted?.n).toBe(300);
  });

  it("runs a commit that lost a deadlock again, so its messages are stored and no error reaches the client", async () => {
    await workspace();
    const day1 = { user: "u00", activity: "login", module: "reports", day: 1 } as const;
    await writeMessages(t.database, accepted([message({ ...day1, id: "first" })]), "UTC");

    // Another transaction holds the rollup row the commit will add to...
    const other = await ownConnection();
    const [{ pid }] = await other<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await other`begin`;
    await other`update activity_daily set count = count
      where entity_type = 'user' and entity_id = 'u00' and day = '2026-03-01' and activity = 'login' and module = 'reports'`;
    // ...the commit renames the user (its row is locked now), then waits for that rollup row...
    const commit = writeMessages(
      t.database,
      accepted([
        { type: "identify", userId: "u00", traits: { name: "Renamed" } },
        message({ ...day1, id: "second" }),
      ]),
      "UTC",
    );
    await waitFor("the commit to wait for the rollup row", async () => (await lockWaiters(pid!)).length > 0);
    // ...and the other transaction now wants the user's row: a deadlock, which the commit (waiting
    // longer) is the one to detect and lose.
    await other`update users set name = 'Other' where id = 'u00'`;
    await other`commit`;
    other.release();

    const outcome = await commit;
    expect(outcome.eventsStored).toBe(1);
    const [rollup] = await rows<{ count: number }>(
      t.database.db,
      sql`select count::int from activity_daily
          where entity_type = 'user' and entity_id = 'u00' and day = '2026-03-01' and activity = 'login'`,
    );
    expect(rollup?.count).toBe(2);
    const [user] = await rows<{ name: string }>(t.database.db, sql`select name from users where id = 'u00'`);
    expect(user?.name).toBe("Renamed");
  });
});
