import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";
import { addAccount, addUser, rulesDir } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("the webhook admin API, status and metrics", () => {
  const t = useTestDatabase();
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([]) } });
  let rx: Receiver;
  let keys: Record<"viewer" | "editor" | "admin", string>;

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
    keys = await api.createKeys();
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
  });

  it("creates, lists, pings, disables, enables and removes a subscription, for admins only", async () => {
    const denied = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/webhooks",
      payload: { url: rx.url },
    });
    expect(denied.statusCode).toBe(403);
    const created = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/webhooks",
      payload: { url: rx.url, events: ["tag.added"], tags: ["VIP"], entityType: "user" },
    });
    expect(created.statusCode, created.body).toBe(201);
    const sub = created.json();
    expect(sub).toMatchObject({ events: ["tag.added"], tags: ["vip"], entityType: "user", enabled: true });
    expect(sub.secret).toMatch(/^whsec_/);
    rx.secret = sub.secret;

    const list = await api.call(keys.admin, { method: "GET", url: "/v1/webhooks" });
    expect(list.json()).toHaveLength(1);
    expect(list.body).not.toContain(sub.secret);

    const ping = await api.call(keys.admin, { method: "POST", url: `/v1/webhooks/${sub.id}/test` });
    expect(ping.json()).toMatchObject({ ok: true, status: 200 });
    expect(rx.requests[0]).toMatchObject({ verified: true, body: { type: "ping" } });

    const off = await api.call(keys.admin, { method: "POST", url: `/v1/webhooks/${sub.id}/disable` });
    expect(off.json()).toMatchObject({ enabled: false });
    const on = await api.call(keys.admin, { method: "POST", url: `/v1/webhooks/${sub.id}/enable` });
    expect(on.json()).toMatchObject({ enabled: true, disabledReason: null });

    const tagged = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/u1/tags",
      payload: { tag: "vip" },
    });
    expect(tagged.statusCode).toBeLessThan(300);
    const deliveries = await api.call(keys.admin, {
      method: "GET",
      url: `/v1/webhooks/${sub.id}/deliveries`,
    });
    expect(
      deliveries
        .json()
        .map((d: { type: string }) => d.type)
        .sort(),
    ).toEqual(["ping", "tag.added"]);

    const metrics = await api.call(keys.admin, { method: "GET", url: "/metrics" });
    expect(metrics.body).toContain(`signaltag_webhook_deliveries_pending{subscription="${sub.id}"} 1`);
    expect(metrics.body).toContain(`signaltag_webhook_deliveries_failed{subscription="${sub.id}"} 0`);
    const status = await runCli(t.database, ["status", "--json"], { SIGNALTAG_RULES_DIR: rulesDir([]) });
    expect(JSON.parse(status.stdout).webhooks[0]).toMatchObject({
      subscriptionId: sub.id,
      pending: 1,
      failed: 0,
    });

    const gone = await api.call(keys.admin, { method: "DELETE", url: `/v1/webhooks/${sub.id}` });
    expect(gone.json()).toEqual({ deliveries: 2 });
    const missing = await api.call(keys.admin, { method: "GET", url: `/v1/webhooks/${sub.id}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("not_found");
  });

  it("refuses a bad subscription with the field named, and replays by time", async () => {
    const bad = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/webhooks",
      payload: { url: "not a url" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("url");
    const badEvent = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/webhooks",
      payload: { url: rx.url, events: ["tag.renamed"] },
    });
    expect(badEvent.statusCode).toBe(400);
    const replay = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/webhooks/deliveries/replay",
      payload: { since: "yesterday" },
    });
    expect(replay.statusCode).toBe(400);
    const none = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/webhooks/deliveries/replay",
      payload: { since: "2026-01-01T00:00:00Z" },
    });
    expect(none.json()).toEqual({ replayed: [] });
    const unknown = await api.call(keys.admin, { method: "POST", url: "/v1/webhooks/deliveries/99/replay" });
    expect(unknown.statusCode).toBe(404);
    // Past a bigint: a 400 naming the parameter, not the database's out-of-range error as a 500.
    const huge = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/webhooks/deliveries/9223372036854775808/replay",
    });
    expect(huge.statusCode, huge.body).toBe(400);
    expect(huge.json().error.message).toContain("deliveryId");
  });
});
