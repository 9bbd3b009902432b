import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import type { QueueSet } from "../../src/jobs/connection.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import {
  addAccount,
  addActivity,
  addUser,
  claimsOf,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const today = new Date().toISOString().slice(0, 10);

/** A rule that reads tags: users tagged vip become champions. */
const championRule = {
  id: "champion",
  name: "Champion",
  tag: "champion",
  target: "user",
  enabled: true,
  conditions: { all: [{ fact: "tags", operator: "contains", value: "vip" }] },
};

/** The entity jobs waiting (or waiting out their debounce) in this test's queues. */
async function queuedEntityJobs(queues: QueueSet) {
  const jobs = await queues.entities.getJobs(["delayed", "waiting", "active", "completed"]);
  return jobs
    .map((j) => j.data as { type: string; ids: string[]; testingTags?: boolean })
    .sort((a, b) => a.ids.join().localeCompare(b.ids.join()));
}

describe.skipIf(queueUnavailable())("re-evaluation after tags change by hand, in bulk or by file", () => {
  const t = useTestDatabase();
  const q = useQueueTest();
  const dir = rulesDir([powerUsersRule(), championRule]);
  const api = useApi(t, {
    env: { REDIS_URL: q.redisUrl, SIGNALTAG_QUEUE_PREFIX: q.prefix, SIGNALTAG_DEBOUNCE_MS: "100" },
  });
  let keys: Record<Role, string>;

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    for (const id of ["u1", "u2", "u3"]) await addUser(t.database, { id, accountId: "acc-1" });
    // u1 is active enough to be a power user, but no run has tagged it.
    await addActivity(t.database, { userId: "u1", accountId: "acc-1", days: lastDays(today, 20) });
    keys = await api.createKeys();
  });

  it("runs the rules that test tags, and only those, on the users a tags file upload changed", async () => {
    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir });
    const upload = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/imports/tags",
      headers: { "content-type": "text/csv" },
      payload: "user_id,tag##vip\nu1,yes\nu2,no\n",
    });
    expect(upload.statusCode, upload.body).toBe(200);

    const champions = await waitFor("the champion tag on u1", async () => {
      const found = await claimsOf(t.database, "champion");
      return found.length > 0 && found;
    });
    expect(champions).toEqual([{ entity_id: "u1", source: "rule:champion" }]);
    // The power-users rule did not run: it cannot see tags, and waits for its next run.
    expect(await claimsOf(t.database, "power users")).toEqual([]);
    const runs = await rows(
      t.database.db,
      sql`select rule_id, trigger, status, evaluated, added, details->>'entities' as entities from rule_runs`,
    );
    expect(runs).toEqual([
      { rule_id: "champion", trigger: "event", status: "applied", evaluated: 1, added: 1, entities: "1" },
    ]);
    expect((await worker.stop()).code).toBe(0);
  });

  it("takes a rule's tag away once a tag it tests is removed by hand, and leaves other rules' tags removed by hand off", async () => {
    const run = await runCli(t.database, ["run"], { SIGNALTAG_RULES_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(
      (await api.call(keys.editor, { method: "POST", url: "/v1/users/u1/tags", payload: { tag: "vip" } }))
        .statusCode,
    ).toBe(200);
    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir });
    await waitFor("the champion tag on u1", async () => (await claimsOf(t.database, "champion")).length > 0);

    const removedByHand = await api.call(keys.editor, {
      method: "DELETE",
      url: "/v1/users/u1/tags/power%20users",
    });
    expect(removedByHand.statusCode).toBe(200);
    const removed = await api.call(keys.editor, { method: "DELETE", url: "/v1/users/u1/tags/vip" });
    expect(removed.statusCode).toBe(200);
    await waitFor(
      "the champion tag to go",
      async () => (await claimsOf(t.database, "champion")).length === 0,
    );
    const queues = await q.queues();
    await waitFor("the queue to drain", async () => {
      const counts = await queues.entities.getJobCounts("delayed", "waiting", "active");
      return Object.values(counts).every((n) => n === 0);
    });
    await queues.close();
    // The power-users rule still matches u1, but claims it again only on its next run (DESIGN section 1).
    expect(await claimsOf(t.database, "power users")).toEqual([]);
    const [last] = await rows<{ rule_id: string; removed: number }>(
      t.database.db,
      sql`select rule_id, removed from rule_runs order by id desc limit 1`,
    );
    expect(last).toEqual({ rule_id: "champion", removed: 1 });
    expect((await worker.stop()).code).toBe(0);
  });

  it("queues the entities that gained or lost a tag through bulk, segment and suppression requests", async () => {
    const queues = await q.queues();
    const bulk = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/tags/bulk",
      payload: { action: "add", entityType: "user", tag: "vip", ids: ["u2", "u3"] },
    });
    expect(bulk.statusCode, bulk.body).toBe(200);
    expect(await queuedEntityJobs(queues)).toEqual([
      { type: "user", ids: ["u2", "u3"], trigger: "event", testingTags: true },
    ]);
    await q.clean();

    const segment = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/segments/users/tags",
      payload: { action: "add", tag: "VIP", notTagged: ["vip"] },
    });
    expect(segment.statusCode, segment.body).toBe(200);
    expect(await queuedEntityJobs(queues)).toEqual([
      { type: "user", ids: ["u1"], trigger: "event", testingTags: true },
    ]);
    await q.clean();

    const unchanged = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u2/tags",
      payload: { tag: "vip" },
    });
    expect(unchanged.json()).toMatchObject({ changed: true });
    // A manual claim next to the bulk one: u2 had the tag already, so no rule can see a difference.
    expect(await queuedEntityJobs(queues)).toEqual([]);

    // Suppressing a tag nobody claims by rule changes no tags.
    const nothing = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u3/suppressions",
      payload: { tag: "vip" },
    });
    expect(nothing.statusCode, nothing.body).toBe(201);
    expect(nothing.json()).toMatchObject({ removedClaims: [] });
    expect(await queuedEntityJobs(queues)).toEqual([]);

    await t.database.db.execute(sql`insert into tags (name) values ('champion')`);
    await t.database.db.execute(sql`
      insert into claims (source, tag_id, entity_type, entity_id)
      select 'rule:champion', id, 'user', 'u3' from tags where name = 'champion'`);
    const suppressed = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u3/suppressions",
      payload: { tag: "champion" },
    });
    expect(suppressed.statusCode, suppressed.body).toBe(201);
    expect(suppressed.json()).toMatchObject({ removedClaims: ["rule:champion"] });
    expect(await queuedEntityJobs(queues)).toEqual([
      { type: "user", ids: ["u3"], trigger: "event", testingTags: true },
    ]);
    await queues.close();
  });

  it("has the CLI's tags file import queue the same re-evaluation", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-tags-")), "tags.csv");
    fs.writeFileSync(file, "user_id,tag##vip\nu3,yes\n");
    const imported = await runCli(t.database, ["import", "tags", file], {
      ...q.env(t.url!),
      SIGNALTAG_RULES_DIR: dir,
      SIGNALTAG_DEBOUNCE_MS: "60000",
    });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("queued re-evaluation of the rules that test tags for 1 user (1 job)");
    const queues = await q.queues();
    expect(await queuedEntityJobs(queues)).toEqual([
      { type: "user", ids: ["u3"], trigger: "event", testingTags: true },
    ]);
    await queues.close();
  });
  it("has the CLI's tag, suppress and segment commands queue the same re-evaluation", async () => {
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir, SIGNALTAG_DEBOUNCE_MS: "60000" };
    const added = await runCli(t.database, ["tag", "add", "user", "u2", "VIP"], env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain("queued re-evaluation of the rules that test tags for 1 user (1 job)");
    // Adding it again changes no membership: nothing more is queued.
    const again = await runCli(t.database, ["tag", "add", "user", "u2", "VIP"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain("queued");

    const bulk = await runCli(
      t.database,
      ["segment", "users", "--not-tagged", "vip", "--add-tag", "beta"],
      env,
    );
    expect(bulk.code, bulk.stderr).toBe(0);
    expect(bulk.stderr).toContain("queued re-evaluation of the rules that test tags for 2 users");

    await t.database.db.execute(sql`insert into tags (name) values ('power users') on conflict do nothing`);
    await t.database.db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
      select 'rule:power-users', id, 'user', 'u1' from tags where name = 'power users'`);
    const suppressed = await runCli(t.database, ["tag", "suppress", "user", "u1", "power users"], env);
    expect(suppressed.code, suppressed.stderr).toBe(0);
    expect(suppressed.stderr).toContain("queued re-evaluation of the rules that test tags for 1 user");

    const queues = await q.queues();
    const jobs = await queuedEntityJobs(queues);
    expect(new Set(jobs.flatMap((j) => j.ids))).toEqual(new Set(["u1", "u2", "u3"]));
    expect(jobs.every((j) => j.testingTags === true)).toBe(true);
    await queues.close();
  });

  it("re-evaluates the entity once a suppression in force is lifted, so the rule claims its tag again", async () => {
    const run = await runCli(t.database, ["run"], { SIGNALTAG_RULES_DIR: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(await claimsOf(t.database, "power users")).toEqual([
      { entity_id: "u1", source: "rule:power-users" },
    ]);
    const suppressed = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u1/suppressions",
      payload: { tag: "power users", rule: "power-users" },
    });
    expect(suppressed.statusCode, suppressed.body).toBe(201);
    expect(await claimsOf(t.database, "power users")).toEqual([]);
    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir });
    const queues = await q.queues();
    const drained = () =>
      waitFor("the queue to drain", async () => {
        const counts = await queues.entities.getJobCounts("delayed", "waiting", "active");
        return Object.values(counts).every((n) => n === 0);
      });
    // The suppression's own job (the rules that test tags) leaves the suppressed tag off.
    await drained();
    expect(await claimsOf(t.database, "power users")).toEqual([]);

    const id = (suppressed.json() as { suppression: { id: number } }).suppression.id;
    const lifted = await api.call(keys.editor, { method: "DELETE", url: `/v1/suppressions/${id}` });
    expect(lifted.statusCode, lifted.body).toBe(200);
    expect(lifted.json()).toMatchObject({ changed: true, suppression: { status: "lifted" } });
    const back = await waitFor("the power users tag back on u1", async () => {
      const found = await claimsOf(t.database, "power users");
      return found.length > 0 && found;
    });
    expect(back).toEqual([{ entity_id: "u1", source: "rule:power-users" }]);
    const [last] = await rows<{ rule_id: string; trigger: string; added: number }>(
      t.database.db,
      sql`select rule_id, trigger, added from rule_runs where rule_id = 'power-users' order by id desc limit 1`,
    );
    expect(last).toEqual({ rule_id: "power-users", trigger: "event", added: 1 });

    // Lifting it again changes nothing and queues nothing.
    await drained();
    await q.clean();
    const again = await api.call(keys.editor, { method: "DELETE", url: `/v1/suppressions/${id}` });
    expect(again.json()).toMatchObject({ changed: false });
    expect(await queuedEntityJobs(queues)).toEqual([]);
    await queues.close();
    expect((await worker.stop()).code).toBe(0);
  });

  it("has the CLI's lift queue the entity's re-evaluation by every rule, unless the suppression had ended", async () => {
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir, SIGNALTAG_DEBOUNCE_MS: "60000" };
    await t.database.db.execute(sql`insert into tags (name) values ('power users') on conflict do nothing`);
    const [active, expired] = await rows<{ id: number }>(
      t.database.db,
      sql`insert into suppressions (tag_id, entity_type, entity_id, until, created_by)
          select id, 'user', e.entity_id, e.until, 'test' from tags,
            (values ('u1', null::timestamptz), ('u2', now() - interval '1 hour')) as e(entity_id, until)
          where name = 'power users' order by e.entity_id returning id`,
    );
    const liftedExpired = await runCli(t.database, ["tag", "lift", String(expired!.id)], env);
    expect(liftedExpired.code, liftedExpired.stderr).toBe(0);
    expect(liftedExpired.stdout).toContain("lifted");
    expect(liftedExpired.stderr).not.toContain("queued");

    const lifted = await runCli(t.database, ["tag", "lift", String(active!.id)], env);
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(lifted.stderr).toContain("queued re-evaluation of 1 user (1 job)");
    const again = await runCli(t.database, ["tag", "lift", String(active!.id)], env);
    expect(again.stdout).toContain("was already lifted");
    expect(again.stderr).not.toContain("queued");

    const queues = await q.queues();
    expect(await queuedEntityJobs(queues)).toEqual([{ type: "user", ids: ["u1"], trigger: "event" }]);
    await queues.close();
  });
});
