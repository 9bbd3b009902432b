import { Analytics } from "@segment/analytics-node";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, type SpawnedWorker, useQueueTest, waitFor } from "../helpers/queue.ts";
import { useServeProcess } from "../helpers/serve.ts";
import { powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const DAY = 86_400_000;

describe.skipIf(queueUnavailable())("Segment's analytics-node against a running signaltag serve", () => {
  const t = useTestDatabase();
  const q = useQueueTest();
  const spawnServe = useServeProcess();
  const rules = rulesDir([powerUsersRule()]);
  let worker: SpawnedWorker | undefined;

  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(sql`truncate ingest_waiting`);
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it("stores identify, group and track exactly, and a worker tags the user active on 20 of 30 days without a manual run", async () => {
    const env = q.env(t.url!, { SIGNALTAG_RULES_DIR: rules, SIGNALTAG_DEBOUNCE_MS: "200" });
    worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: rules, SIGNALTAG_DEBOUNCE_MS: "200" });
    const server = await spawnServe(env);
    const { key } = await createApiKey(t.database.db, { name: "website", role: "ingest" });

    const analytics = new Analytics({
      writeKey: key,
      host: server.url,
      path: "/v1/batch",
      flushAt: 40,
      flushInterval: 200,
    });
    const failures: unknown[] = [];
    analytics.on("error", (err) => failures.push(err));
    const now = Date.now();
    analytics.group({
      userId: "power",
      groupId: "acme",
      traits: { name: "Acme", contract_status: "trial", industry: "retail" },
    });
    for (const id of ["power", "casual", "new"]) {
      analytics.identify({
        userId: id,
        traits: { email: `${id}@acme.test`, name: id },
        context: { groupId: "acme" },
      });
    }
    // Active on days 0..19 before now (20 distinct days), once each; the casual user on 5 days.
    for (let d = 0; d < 20; d++) {
      analytics.track({
        userId: "power",
        event: "report viewed",
        properties: { module: "reports" },
        timestamp: new Date(now - d * DAY - 60_000),
      });
    }
    for (let d = 0; d < 5; d++) {
      analytics.track({ userId: "casual", event: "login", timestamp: new Date(now - d * DAY - 60_000) });
    }
    await analytics.closeAndFlush();
    expect(failures).toEqual([]);

    const db = t.database.db;
    expect(await rows(db, sql`select id, name, contract_status, attributes from accounts`)).toEqual([
      { id: "acme", name: "Acme", contract_status: "trial", attributes: { industry: "retail" } },
    ]);
    expect(await rows(db, sql`select id, account_id, email from users order by id`)).toEqual([
      { id: "casual", account_id: "acme", email: "casual@acme.test" },
      { id: "new", account_id: "acme", email: "new@acme.test" },
      { id: "power", account_id: "acme", email: "power@acme.test" },
    ]);
    expect(
      await rows(
        db,
        sql`select user_id, count(*)::int as events, count(distinct event_id)::int as ids from activity_events group by 1 order by 1`,
      ),
    ).toEqual([
      { user_id: "casual", events: 5, ids: 5 },
      { user_id: "power", events: 20, ids: 20 },
    ]);
    expect(
      await rows(
        db,
        sql`select entity_type, entity_id, count(distinct day)::int as days, sum(count)::int as n from activity_daily group by 1, 2 order by 1, 2`,
      ),
    ).toEqual([
      { entity_type: "account", entity_id: "acme", days: 20, n: 25 },
      { entity_type: "user", entity_id: "casual", days: 5, n: 5 },
      { entity_type: "user", entity_id: "power", days: 20, n: 20 },
    ]);

    const tagged = await waitFor("the worker to tag the power user", async () => {
      const found = await rows<{ entity_id: string; source: string }>(
        db,
        sql`select c.entity_id, c.source from claims c join tags g on g.id = c.tag_id where g.name = 'power users'`,
      );
      return found.length > 0 ? found : undefined;
    });
    expect(tagged).toEqual([{ entity_id: "power", source: "rule:power-users" }]);
    const runs = await rows<{ trigger: string }>(db, sql`select distinct trigger from rule_runs`);
    expect(runs).toEqual([{ trigger: "event" }]);
    await server.stop();
  });
});
