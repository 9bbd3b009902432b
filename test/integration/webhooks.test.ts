import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { useApi } from "../helpers/api.ts";
import { backendUnavailable } from "../helpers/db.ts";
import { AS_OF, everyoneRule, useWebhookWorkspace } from "../helpers/webhooks.ts";
import { rulesDir } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("webhooks from the outbox", () => {
  const w = useWebhookWorkspace();
  const api = useApi(w.t, { env: { SIGNALTAG_RULES_DIR: rulesDir([]) } });

  it("sends exactly the expected deliveries for a rule run, a manual tag, a bulk change and a retirement, and none for a dry run", async () => {
    await w.subscribe();
    expect((await w.cli("run", "--as-of", AS_OF, "--dry-run")).code).toBe(0);
    expect(await w.count()).toBe(0);

    expect((await w.cli("run", "--as-of", AS_OF)).code).toBe(0);
    await w.deliverAll();
    expect(w.rx.requests.every((r) => r.verified)).toBe(true);
    expect(w.seen()).toEqual(
      Array.from({ length: 8 }, (_, i) => `tag.added u${i + 1} veteran rule:veterans`).sort(),
    );
    const first = w.rx.delivered().find((r) => r.body.data.entityId === "u1")!;
    expect(first.body.data).toMatchObject({
      entityType: "user",
      ruleId: "veterans",
      ruleName: "Veterans",
      reason: "conditions matched",
      asOf: "2026-03-01T12:00:00.000Z",
    });
    expect(typeof first.body.data.tagEventId).toBe("number");

    w.rx.clear();
    expect((await w.cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    // u1 already has the tag from the rule: a second claim changes nothing a subscriber sees.
    expect((await w.cli("tag", "add", "user", "u1", "veteran")).code).toBe(0);
    const keys = await api.createKeys();
    const bulk = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/tags/bulk",
      payload: { action: "add", entityType: "user", tag: "promo", ids: ["u2", "u3", "u4"] },
    });
    expect(bulk.statusCode, bulk.body).toBe(200);
    await w.deliverAll();
    expect(w.seen()).toEqual(
      [
        "tag.added u1 vip manual",
        "tag.added u2 promo bulk",
        "tag.added u3 promo bulk",
        "tag.added u4 promo bulk",
      ].sort(),
    );
    expect(w.rx.delivered().find((r) => r.body.data.tag === "vip")!.body.data.reason).toBeTypeOf("string");

    w.rx.clear();
    fs.writeFileSync(path.join(w.dir, "veterans.json"), JSON.stringify(everyoneRule(false)));
    const retired = await w.cli("rules", "retire", "veterans", "--force");
    expect(retired.code, retired.stderr).toBe(0);
    await w.deliverAll();
    // u1 keeps the tag by its manual claim.
    expect(w.seen()).toEqual(
      Array.from({ length: 7 }, (_, i) => `tag.removed u${i + 2} veteran rule:veterans`).sort(),
    );
  });

  it("retries a receiver that answers 500, with the same webhook-id, and keeps each entity's order", async () => {
    await w.subscribe();
    // Every message fails twice before it is taken.
    w.rx.answer = ({ count: n }) => (n <= 2 ? 500 : 200);
    for (const [verb, id, tag] of [
      ["add", "u1", "vip"],
      ["add", "u2", "vip"],
      ["remove", "u1", "vip"],
      ["add", "u1", "vip"],
      ["remove", "u2", "vip"],
    ] as const) {
      expect((await w.cli("tag", verb, "user", id, tag)).code).toBe(0);
    }
    await w.deliverAll();
    expect(w.rx.requests.every((r) => r.verified)).toBe(true);
    const delivered = w.rx.delivered();
    expect(delivered).toHaveLength(5);
    expect(new Set(delivered.map((r) => r.id)).size).toBe(5);
    // Each failed attempt's id is later delivered: retries carry the same id.
    for (const r of w.rx.requests.filter((q) => q.status === 500)) {
      expect(delivered.map((d) => d.id)).toContain(r.id);
    }
    const order = (entity: string) =>
      delivered.filter((r) => r.body.data.entityId === entity).map((r) => r.body.type);
    expect(order("u1")).toEqual(["tag.added", "tag.removed", "tag.added"]);
    expect(order("u2")).toEqual(["tag.added", "tag.removed"]);
    const events = delivered.filter((r) => r.body.data.entityId === "u1").map((r) => r.body.data.tagEventId!);
    expect(events).toEqual([...events].sort((a, b) => a - b));
    expect(await w.count(sql`status = 'delivered' and attempts = 3`)).toBe(5);
  });

  it("holds an entity's later delivery behind an earlier pending one, across its events the subscription does not get", async () => {
    await w.subscribe("--tag", "vip");
    w.rx.answer = ({ count: n }) => (n <= 2 ? 500 : 200);
    for (const [verb, tag] of [
      ["add", "vip"],
      ["add", "other"],
      ["add", "third"],
      ["remove", "vip"],
    ] as const) {
      expect((await w.cli("tag", verb, "user", "u1", tag)).code).toBe(0);
    }
    expect(await w.count()).toBe(2);
    await w.deliverAll();
    const types = w.rx.requests.map((r) => `${r.body.type} ${r.status}`);
    // The removal is not tried until the addition is delivered, though events of other tags lie between them.
    expect(types).toEqual([
      "tag.added 500",
      "tag.added 500",
      "tag.added 200",
      "tag.removed 500",
      "tag.removed 500",
      "tag.removed 200",
    ]);
  });

  it("writes no deliveries for a run the removal guard holds or one that fails at commit", async () => {
    await w.subscribe();
    expect((await w.cli("run", "--as-of", AS_OF)).code).toBe(0);
    expect(await w.count()).toBe(8);

    fs.writeFileSync(path.join(w.dir, "veterans.json"), JSON.stringify(everyoneRule(true, false)));
    const held = await w.cli("run", "--as-of", AS_OF);
    expect(held.code, held.stdout + held.stderr).toBe(3);
    expect(await w.count()).toBe(8);

    // A run whose transaction fails after its tag events (and their deliveries) were written.
    await w.t.database.db.execute(
      sql.raw(`create function test_fail_commit() returns trigger language plpgsql as
                 $$ begin raise exception 'the run fails at commit'; end $$`),
    );
    await w.t.database.db.execute(
      sql.raw(`create constraint trigger test_fail_commit after insert on tag_events
                 deferrable initially deferred for each row execute function test_fail_commit()`),
    );
    try {
      const failed = await w.cli("run", "--as-of", AS_OF, "--force");
      expect(failed.code).not.toBe(0);
    } finally {
      await w.t.database.db.execute(sql.raw("drop trigger test_fail_commit on tag_events"));
      await w.t.database.db.execute(sql.raw("drop function test_fail_commit()"));
    }
    expect(await w.count()).toBe(8);
    expect(await w.count(sql`type = 'tag.removed'`)).toBe(0);
  });

  it("disables a subscription on 410, and replays a failed delivery with its webhook-id", async () => {
    const id = await w.subscribe();
    w.rx.answer = () => 410;
    expect((await w.cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    await w.deliverAll();
    const list = JSON.parse((await w.cli("webhooks", "list", "--json")).stdout);
    expect(list[0]).toMatchObject({ id, enabled: false });
    expect(list[0].disabledReason).toContain("410");
    expect(await w.count(sql`status = 'failed' and last_status = 410`)).toBe(1);

    expect((await w.cli("webhooks", "enable", String(id))).code).toBe(0);
    w.extraEnv = { SIGNALTAG_WEBHOOK_GIVE_UP_MS: "0" };
    w.rx.clear();
    w.rx.answer = () => 500;
    expect((await w.cli("tag", "add", "user", "u2", "vip")).code).toBe(0);
    await w.deliverAll();
    const failed = JSON.parse(
      (await w.cli("webhooks", "deliveries", String(id), "--failed", "--json")).stdout,
    );
    expect(failed.map((d: { entityId: string }) => d.entityId).sort()).toEqual(["u1", "u2"]);
    const u2 = failed.find((d: { entityId: string }) => d.entityId === "u2");
    expect(w.rx.requests.map((r) => r.id)).toEqual([u2.webhookId]);

    w.rx.answer = () => 200;
    const replay = await w.cli("webhooks", "replay", String(u2.id));
    expect(replay.code, replay.stderr).toBe(0);
    await w.deliverAll();
    expect(w.rx.delivered().map((r) => r.id)).toEqual([u2.webhookId]);

    w.rx.clear();
    const since = await w.cli("webhooks", "replay", "--since", "2000-01-01T00:00:00Z");
    expect(since.stdout).toContain("1 delivery queued again");
    await w.deliverAll();
    expect(w.rx.delivered().map((r) => r.body.data.entityId)).toEqual(["u1"]);
    expect(await w.count(sql`status <> 'delivered'`)).toBe(0);
  });

  it("pings a subscription, lists, disables and removes it", async () => {
    const id = await w.subscribe();
    const ping = await w.cli("webhooks", "test", String(id));
    expect(ping.code, ping.stderr).toBe(0);
    expect(w.rx.requests).toHaveLength(1);
    expect(w.rx.requests[0]).toMatchObject({ verified: true, body: { type: "ping" } });
    expect(await w.count(sql`type = 'ping' and status = 'delivered' and attempts = 1`)).toBe(1);
    expect((await w.cli("webhooks", "disable", String(id))).code).toBe(0);
    expect((await w.cli("tag", "add", "user", "u1", "vip")).code).toBe(0);
    expect(await w.count(sql`type <> 'ping'`)).toBe(0);
    expect((await w.cli("webhooks", "list")).stdout).toContain("disabled");
    const removed = await w.cli("webhooks", "remove", String(id));
    expect(removed.stdout).toContain("removed webhook");
    expect(await w.count()).toBe(0);
    const missing = await w.cli("webhooks", "remove", String(id));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`no webhook subscription ${id}`);
    const bad = await w.cli("webhooks", "add", "--url", "ftp://example.com", "--event", "tag.added");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("http or https");
  });
});
