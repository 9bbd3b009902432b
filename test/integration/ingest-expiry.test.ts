import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { openIngest, type WaitingKind } from "../../src/ingest/index.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/queue.ts";
import { rulesDir } from "../helpers/workspace.ts";

const DAY = 86_400_000;

describe.skipIf(backendUnavailable())("messages waiting past the retention", () => {
  const t = useTestDatabase();
  const rules = rulesDir([]);
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rules } });

  it("deletes and counts those older than the retention, and keeps and later applies a younger one", async () => {
    await t.reset();
    await t.database.db.execute(sql`truncate ingest_waiting, ingest_expired`);
    const keys = await api.createKeys();
    const query = <T>(text: string) => rows<T>(t.database.db, sql.raw(text));
    const expired: Record<WaitingKind, number>[] = [];
    const ingest = openIngest(t.database, {
      timezone: "UTC",
      sweepMs: 50,
      waitDays: 7,
      expired: (counts) => expired.push(counts),
    });
    try {
      const now = Date.now();
      const old = await ingest.accept(
        [
          { type: "track", userId: "gone", event: "login", messageId: "old-1" },
          {
            type: "identify",
            userId: "never",
            context: { groupId: "nowhere" },
            traits: { email: "n@x.test" },
          },
          // The account is stored; the membership of a user never identified waits.
          { type: "group", userId: "ghost", groupId: "acct", traits: {} },
        ],
        { receivedAt: now - 8 * DAY },
      );
      expect(old.problems).toEqual([]);
      const young = await ingest.accept(
        [{ type: "track", userId: "young", event: "login", messageId: "young-1" }],
        { receivedAt: now - 6 * DAY },
      );
      expect(young.problems).toEqual([]);

      await waitFor("the sweep to delete what waited past the retention", async () => {
        const [n] = await query<{ n: number }>(`select count(*)::int as n from ingest_waiting`);
        return n?.n === 1;
      });
      expect(await query(`select kind, user_id from ingest_waiting`)).toEqual([
        { kind: "track", user_id: "young" },
      ]);
      expect(await query(`select kind, messages::int as n from ingest_expired order by kind`)).toEqual([
        { kind: "identify", n: 1 },
        { kind: "member", n: 1 },
        { kind: "track", n: 1 },
      ]);
      const heard = { track: 0, identify: 0, member: 0 };
      for (const c of expired) for (const k of Object.keys(heard) as WaitingKind[]) heard[k] += c[k];
      expect(heard).toEqual({ track: 1, identify: 1, member: 1 });

      const status = await runCli(t.database, ["status", "--json"], { SIGNALTAG_RULES_DIR: rules });
      expect(JSON.parse(status.stdout).ingestWaiting).toMatchObject({
        events: 1,
        identifies: 0,
        memberships: 0,
        expired: { track: 1, identify: 1, member: 1 },
      });
      expect((await runCli(t.database, ["status"], { SIGNALTAG_RULES_DIR: rules })).stdout).toMatch(
        /ingestion: 1 events, 1 identifies and 1 memberships expired after waiting 7 days for a user or account never identified/,
      );
      const metrics = (await api.call(keys.admin, { method: "GET", url: "/metrics" })).body;
      expect(metrics).toMatch(/signaltag_ingest_expired_messages_total\{kind="track"\} 1\n/);
      expect(metrics).toMatch(/signaltag_ingest_expired_messages_total\{kind="identify"\} 1\n/);
      expect(metrics).toMatch(/signaltag_ingest_waiting_messages\{kind="track"\} 1\n/);

      // The younger message is still applied once its user is identified.
      await ingest.accept(
        [
          { type: "group", groupId: "acct", traits: {} },
          { type: "identify", userId: "young", context: { groupId: "acct" }, traits: {} },
        ],
        { receivedAt: Date.now() },
      );
      expect(await query(`select event_id, user_id, account_id from activity_events`)).toEqual([
        { event_id: "young-1", user_id: "young", account_id: "acct" },
      ]);
      expect(await query(`select count(*)::int as n from ingest_waiting`)).toEqual([{ n: 0 }]);
      expect(await query(`select count(*)::int as n from users where id in ('never', 'ghost')`)).toEqual([
        { n: 0 },
      ]);
    } finally {
      await ingest.close();
    }
  });
});
