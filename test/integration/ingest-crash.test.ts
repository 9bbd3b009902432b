import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/queue.ts";
import { useServeProcess } from "../helpers/serve.ts";
import { rulesDir } from "../helpers/workspace.ts";

const BATCH = 50;

/** Killing a server process needs a database outside it: Postgres only. */
describe.skipIf(backendUnavailable() || testBackend() !== "postgres")(
  "usage over HTTP when the server is killed",
  () => {
    const t = useTestDatabase();
    const spawnServe = useServeProcess();

    beforeEach(async () => {
      await t.reset();
      await t.database.db.execute(sql`truncate ingest_waiting`);
    });

    it("has every message acknowledged with 200 stored after kill -9, and the resent rest stored once", async () => {
      const env = {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        DATABASE_URL: t.url!,
        SIGNALTAG_RULES_DIR: rulesDir([]),
      };
      const { key } = await createApiKey(t.database.db, { name: "client", role: "ingest" });
      const auth = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
      let server = await spawnServe(env);
      const post = (url: string, body: unknown) =>
        fetch(`${url}/v1/batch`, {
          method: "POST",
          headers: { authorization: auth, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const setup = await post(server.url, {
        batch: [
          { type: "group", userId: "u1", groupId: "acme", traits: {} },
          { type: "identify", userId: "u1", traits: {} },
        ],
      });
      expect(setup.status).toBe(200);

      const batches = Array.from({ length: 400 }, (_, b) =>
        Array.from({ length: BATCH }, (_, i) => ({
          type: "track",
          userId: "u1",
          event: "clicked",
          messageId: `m-${b}-${i}`,
          timestamp: new Date(Date.UTC(2026, 0, 1 + (b % 28))).toISOString(),
        })),
      );
      const acked = new Set<number>();
      let next = 0;
      const senders = Array.from({ length: 4 }, async () => {
        while (next < batches.length) {
          const b = next++;
          try {
            const res = await post(server.url, { batch: batches[b] });
            if (res.status === 200) acked.add(b);
          } catch {
            // The server is gone: this batch is resent below.
          }
        }
      });
      await waitFor("some batches to be acknowledged", () => acked.size >= 30, {
        timeoutMs: 60_000,
        intervalMs: 5,
      });
      server.process.kill("SIGKILL");
      await server.exited;
      await Promise.all(senders);
      expect(acked.size).toBeGreaterThanOrEqual(30);
      expect(acked.size).toBeLessThan(batches.length);

      const stored = new Set(
        (await rows<{ event_id: string }>(t.database.db, sql`select event_id from activity_events`)).map(
          (r) => r.event_id,
        ),
      );
      const lost = [...acked]
        .flatMap((b) => batches[b]!.map((m) => m.messageId))
        .filter((id) => !stored.has(id));
      expect(lost).toEqual([]);

      // The client resends what was not acknowledged; what had committed anyway is not stored twice.
      server = await spawnServe(env);
      for (let b = 0; b < batches.length; b++) {
        if (!acked.has(b)) expect((await post(server.url, { batch: batches[b] })).status).toBe(200);
      }
      const [totals] = await rows<{ events: number; ids: number; daily: number }>(
        t.database.db,
        sql`select (select count(*) from activity_events)::int as events,
                 (select count(distinct event_id) from activity_events)::int as ids,
                 (select sum(count) from activity_daily where entity_type = 'user')::int as daily`,
      );
      expect(totals).toEqual({ events: 400 * BATCH, ids: 400 * BATCH, daily: 400 * BATCH });
      await server.stop();
    });
  },
);
