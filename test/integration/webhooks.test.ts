import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/client.ts";
import { syncRules } from "../../src/rules/sync.ts";
import { applyPartitionedRun, evaluatePartition, partitionBounds } from "../../src/runs/partitioned-run.ts";
import { loadValidRules, reconcileEntities } from "../../src/runs/runner.ts";
import { deliveryOptions } from "../../src/webhooks/deliveries.ts";
import { drainOutbox } from "../../src/webhooks/drain.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";
import { addAccount, addUser, rulesDir } from "../helpers/workspace.ts";

const AS_OF = "2026-03-01T12:00:00Z";

function everyoneRule(enabled = true, matches = true) {
  return {
    id: "veterans",
    name: "Veterans",
    tag: "veteran",
    target: "user",
    enabled,
    conditions: {
      all: [{ fact: "daysSinceCreated", operator: matches ? "greaterThanInclusive" : "lessThan", value: 0 }],
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(backendUnavailable())("webhooks from the outbox", () => {
  const t = useTestDatabase();
  let dir: string;
  let rx: Receiver;
  let extraEnv: Record<string, string> = {};
  const env = () => ({ SIGNALTAG_RULES_DIR: dir, SIGNALTAG_WEBHOOK_RETRY_BASE_MS: "20", ...extraEnv });
  const cli = (...argv: string[]) => runCli(t.database, argv, env());
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([]) } });

  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx.close();
  });

  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(
      sql.raw("truncate webhook_subscriptions, webhook_deliveries restart identity"),
    );
    rx.clear();
    rx.answer = () => 200;
    extraEnv = {};
    await addAccount(t.database, { id: "acc-1" });
    for (let i = 1; i <= 8; i++) await addUser(t.database, { id: `u${i}`, accountId: "acc-1" });
    dir = rulesDir([everyoneRule()]);
  });

  const count = async (where = sql`true`) =>
    (
      await rows<{ n: number }>(
        t.database.db,
        sql`select count(*)::int as n from webhook_deliveries where ${where}`,
      )
    )[0]!.n;

  async function subscribe(...args: string[]): Promise<number> {
    const r = await cli("webhooks", "add", "--url", rx.url, ...args);
    expect(r.code, r.stderr).toBe(0);
    const [, id] = /^id (\d+)$/m.exec(r.stdout)!;
    const [, secret] = /^secret (whsec_\S+)$/m.exec(r.stdout)!;
    rx.secret = secret!;
    return Number(id);
  }

  /** Drains in this process until no delivery is pending. */
  async function deliverAll(): Promise<void> {
    const controller = new AbortController();
    const opts = { ...deliveryOptions(loadConfig(env())), pollMs: 10 };
    const running = drainOutbox(t.database.db, opts, { signal: controller.signal });
    try {
      await until("every delivery settled", async () => (await count(sql`status = 'pending'`)) === 0);
    } finally {
      controller.abort();
      await running;
    }
  }

  const seen = () =>
    rx
      .delivered()
      .map((r) => `${r.body.type} ${r.body.data.entityId} ${r.body.data.tag} ${r.body.data.source}`)
      .sort();

  it("sends exactly the expected deliveries for a rule run, a manual tag, a bulk change and a retirement, and none for a dry run", async () => {
    await subscribe();
    expect((await cli("run", "--as-of", AS_OF, "--dry-run")).code).toBe(0);
    expect(await count()).toBe(0);

    expect((await cli("run", "--as-of", AS_OF)).code).toBe(0);
    await deliverAll();
    expect(rx.requests.every((r) => r.verified)).toBe(true);
    expect(seen()).toEqual(
      Array.from({ length: 8 }, (_, i) => `tag.added u${i + 1} veteran rule:veterans`).sort(),
    );
    const first = rx.delivered().find((r) => r.body.data.entityId === "u1")!;
    expect(first.body.data).toMatchObject({
      entityType: "user",
      ruleId: "veterans",
      ruleName: "Veterans",
      reason: "conditions matched",
      asOf: "2026-03-01T12:00:00.000Z",
    });
    expect(typeof first.body.data.tagEventId).toBe("number");

    rx.clear();
    expect((await cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    // u1 already has the tag from the rule: a second claim changes nothing a subscriber sees.
    expect((await cli("tag", "add", "user", "u1", "veteran")).code).toBe(0);
    const keys = await api.createKeys();
    const bulk = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/tags/bulk",
      payload: { action: "add", entityType: "user", tag: "promo", ids: ["u2", "u3", "u4"] },
    });
    expect(bulk.statusCode, bulk.body).toBe(200);
    await deliverAll();
    expect(seen()).toEqual(
      [
        "tag.added u1 vip manual",
        "tag.added u2 promo bulk",
        "tag.added u3 promo bulk",
        "tag.added u4 promo bulk",
      ].sort(),
    );
    expect(rx.delivered().find((r) => r.body.data.tag === "vip")!.body.data.reason).toBeTypeOf("string");

    rx.clear();
    fs.writeFileSync(path.join(dir, "veterans.json"), JSON.stringify(everyoneRule(false)));
    const retired = await cli("rules", "retire", "veterans", "--force");
    expect(retired.code, retired.stderr).toBe(0);
    await deliverAll();
    // u1 keeps the tag by its manual claim.
    expect(seen()).toEqual(
      Array.from({ length: 7 }, (_, i) => `tag.removed u${i + 2} veteran rule:veterans`).sort(),
    );
  });

  it("writes deliveries for a re-evaluation of a few entities and for a tags file", async () => {
    await subscribe();
    const rules = await loadValidRules(dir);
    await reconcileEntities(t.database.db, rules, "user", ["u3", "u5"], {
      asOf: new Date(AS_OF),
      timezone: "UTC",
      trigger: "event",
      removalGuard: 0.5,
    });
    const file = path.join(dir, "tags.csv");
    fs.writeFileSync(file, "user_id,tag##gold\nu1,yes\nu2,yes\n");
    const imported = await cli("import", "tags", file);
    expect(imported.code, imported.stderr).toBe(0);
    await deliverAll();
    expect(seen()).toEqual(
      [
        "tag.added u3 veteran rule:veterans",
        "tag.added u5 veteran rule:veterans",
        "tag.added u1 gold file",
        "tag.added u2 gold file",
      ].sort(),
    );
  });

  it("writes deliveries for a partitioned run, once, when its partitions are applied", async () => {
    await subscribe("--source", "rule:veterans");
    const [loaded] = await loadValidRules(dir);
    await syncRules(t.database.db, [loaded!], { complete: true });
    const opts = { asOf: new Date(AS_OF), timezone: "UTC", trigger: "manual" as const, removalGuard: 0.5 };
    const { bounds } = await partitionBounds(t.database.db, "user", opts.asOf, 3);
    const runKey = "run-1.veterans";
    for (const [i, through] of bounds.entries()) {
      await evaluatePartition(t.database.db, loaded!, opts, {
        runKey,
        partition: i,
        after: i === 0 ? null : bounds[i - 1]!,
        through,
      });
    }
    // Evaluating partitions writes no tag event, so no delivery: applying them does.
    expect(await count()).toBe(0);
    const applied = await applyPartitionedRun(t.database.db, loaded!, { ...opts, runKey }, bounds.length);
    expect(applied).toMatchObject({ status: "applied", added: 8 });
    await applyPartitionedRun(t.database.db, loaded!, { ...opts, runKey }, bounds.length);
    expect(await count()).toBe(8);
    await deliverAll();
    expect(seen()).toEqual(
      Array.from({ length: 8 }, (_, i) => `tag.added u${i + 1} veteran rule:veterans`).sort(),
    );
  });

  it("keeps sending to one subscription while another's receiver does not answer", async () => {
    const stuck = await startReceiver();
    try {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      stuck.answer = async () => {
        await held;
        return 200;
      };
      const slow = await cli("webhooks", "add", "--url", stuck.url, "--max-in-flight", "2");
      stuck.secret = /^secret (\S+)$/m.exec(slow.stdout)![1]!;
      const fast = await subscribe();
      expect((await cli("run", "--as-of", AS_OF)).code).toBe(0);
      const controller = new AbortController();
      const opts = { ...deliveryOptions(loadConfig(env())), pollMs: 10 };
      const running = drainOutbox(t.database.db, opts, { signal: controller.signal });
      try {
        // Recorded as delivered, not only received: nothing of it waits for the stuck receiver.
        await until(
          "the other subscription's deliveries",
          async () => (await count(sql`subscription_id = ${fast} and status = 'delivered'`)) === 8,
        );
        expect(rx.delivered()).toHaveLength(8);
        // The stuck receiver holds at most its max_in_flight requests; the rest of its deliveries wait.
        expect(stuck.arrived.length).toBeLessThanOrEqual(2);
        release();
        await until("the stuck subscription's deliveries", async () => stuck.delivered().length === 8);
      } finally {
        release();
        controller.abort();
        await running;
      }
      expect(stuck.requests.every((r) => r.verified)).toBe(true);
    } finally {
      await stuck.close();
    }
  });

  it("filters by event, tag, entity type and source", async () => {
    const onlyVip = await subscribe(
      "--tag",
      "VIP",
      "--event",
      "tag.added",
      "--type",
      "user",
      "--source",
      "manual",
    );
    expect((await cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    expect((await cli("tag", "remove", "user", "u1", "vip")).code).toBe(0);
    expect((await cli("tag", "add", "user", "u2", "other")).code).toBe(0);
    expect((await cli("run", "--as-of", AS_OF)).code).toBe(0);
    expect(await count()).toBe(1);
    expect(await count(sql`subscription_id = ${onlyVip} and type = 'tag.added' and entity_id = 'u1'`)).toBe(
      1,
    );
  });

  it("retries a receiver that answers 500, with the same webhook-id, and keeps each entity's order", async () => {
    await subscribe();
    // Every message fails twice before it is taken.
    rx.answer = ({ count: n }) => (n <= 2 ? 500 : 200);
    for (const [verb, id, tag] of [
      ["add", "u1", "vip"],
      ["add", "u2", "vip"],
      ["remove", "u1", "vip"],
      ["add", "u1", "vip"],
      ["remove", "u2", "vip"],
    ] as const) {
      expect((await cli("tag", verb, "user", id, tag)).code).toBe(0);
    }
    await deliverAll();
    expect(rx.requests.every((r) => r.verified)).toBe(true);
    const delivered = rx.delivered();
    expect(delivered).toHaveLength(5);
    expect(new Set(delivered.map((r) => r.id)).size).toBe(5);
    // Each failed attempt's id is later delivered: retries carry the same id.
    for (const r of rx.requests.filter((q) => q.status === 500)) {
      expect(delivered.map((d) => d.id)).toContain(r.id);
    }
    const order = (entity: string) =>
      delivered.filter((r) => r.body.data.entityId === entity).map((r) => r.body.type);
    expect(order("u1")).toEqual(["tag.added", "tag.removed", "tag.added"]);
    expect(order("u2")).toEqual(["tag.added", "tag.removed"]);
    const events = delivered.filter((r) => r.body.data.entityId === "u1").map((r) => r.body.data.tagEventId!);
    expect(events).toEqual([...events].sort((a, b) => a - b));
    expect(await count(sql`status = 'delivered' and attempts = 3`)).toBe(5);
  });

  it("writes no deliveries for a run the removal guard holds or one that fails at commit", async () => {
    await subscribe();
    expect((await cli("run", "--as-of", AS_OF)).code).toBe(0);
    expect(await count()).toBe(8);

    fs.writeFileSync(path.join(dir, "veterans.json"), JSON.stringify(everyoneRule(true, false)));
    const held = await cli("run", "--as-of", AS_OF);
    expect(held.code, held.stdout + held.stderr).toBe(3);
    expect(await count()).toBe(8);

    // A run whose transaction fails after its tag events (and their deliveries) were written.
    await t.database.db.execute(
      sql.raw(`create function test_fail_commit() returns trigger language plpgsql as
                 $$ begin raise exception 'the run fails at commit'; end $$`),
    );
    await t.database.db.execute(
      sql.raw(`create constraint trigger test_fail_commit after insert on tag_events
                 deferrable initially deferred for each row execute function test_fail_commit()`),
    );
    try {
      const failed = await cli("run", "--as-of", AS_OF, "--force");
      expect(failed.code).not.toBe(0);
    } finally {
      await t.database.db.execute(sql.raw("drop trigger test_fail_commit on tag_events"));
      await t.database.db.execute(sql.raw("drop function test_fail_commit()"));
    }
    expect(await count()).toBe(8);
    expect(await count(sql`type = 'tag.removed'`)).toBe(0);
  });

  it("disables a subscription on 410, and replays a failed delivery with its webhook-id", async () => {
    const id = await subscribe();
    rx.answer = () => 410;
    expect((await cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    await deliverAll();
    const list = JSON.parse((await cli("webhooks", "list", "--json")).stdout);
    expect(list[0]).toMatchObject({ id, enabled: false });
    expect(list[0].disabledReason).toContain("410");
    expect(await count(sql`status = 'failed' and last_status = 410`)).toBe(1);

    expect((await cli("webhooks", "enable", String(id))).code).toBe(0);
    extraEnv = { SIGNALTAG_WEBHOOK_GIVE_UP_MS: "0" };
    rx.clear();
    rx.answer = () => 500;
    expect((await cli("tag", "add", "user", "u2", "vip")).code).toBe(0);
    await deliverAll();
    const failed = JSON.parse((await cli("webhooks", "deliveries", String(id), "--failed", "--json")).stdout);
    expect(failed.map((d: { entityId: string }) => d.entityId).sort()).toEqual(["u1", "u2"]);
    const u2 = failed.find((d: { entityId: string }) => d.entityId === "u2");
    expect(rx.requests.map((r) => r.id)).toEqual([u2.webhookId]);

    rx.answer = () => 200;
    const replay = await cli("webhooks", "replay", String(u2.id));
    expect(replay.code, replay.stderr).toBe(0);
    await deliverAll();
    expect(rx.delivered().map((r) => r.id)).toEqual([u2.webhookId]);

    rx.clear();
    const since = await cli("webhooks", "replay", "--since", "2000-01-01T00:00:00Z");
    expect(since.stdout).toContain("1 delivery queued again");
    await deliverAll();
    expect(rx.delivered().map((r) => r.body.data.entityId)).toEqual(["u1"]);
    expect(await count(sql`status <> 'delivered'`)).toBe(0);
  });

  it("pings a subscription, lists, disables and removes it", async () => {
    const id = await subscribe();
    const ping = await cli("webhooks", "test", String(id));
    expect(ping.code, ping.stderr).toBe(0);
    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]).toMatchObject({ verified: true, body: { type: "ping" } });
    expect((await cli("webhooks", "disable", String(id))).code).toBe(0);
    expect((await cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    expect(await count(sql`type <> 'ping'`)).toBe(0);
    expect((await cli("webhooks", "list")).stdout).toContain("disabled");
    const removed = await cli("webhooks", "remove", String(id));
    expect(removed.stdout).toContain("removed webhook");
    expect(await count()).toBe(0);
    const missing = await cli("webhooks", "remove", String(id));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`no webhook subscription ${id}`);
    const bad = await cli("webhooks", "add", "--url", "ftp://example.com", "--event", "tag.added");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("http or https");
  });
});
