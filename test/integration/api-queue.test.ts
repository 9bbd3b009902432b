import { randomBytes } from "node:crypto";
import net from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

async function redisReachable(): Promise<boolean> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

// The queue side of the API needs Redis and the server's Postgres; elsewhere the suite is skipped.
const wanted = testBackend() === "postgres" && !backendUnavailable();
const runnable = wanted && (await redisReachable());
if (wanted && !runnable && process.env.CI === "true") {
  throw new Error("Redis is required in CI and is not reachable: the API's queue suite cannot run");
}
const prefix = `sigapi-${randomBytes(4).toString("hex")}`;

describe.skipIf(!runnable)("the HTTP API with Redis configured", () => {
  const t = useTestDatabase();
  const api = useApi(t, {
    env: {
      REDIS_URL: redisUrl,
      SIGNALTAG_QUEUE_PREFIX: prefix,
      SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]),
    },
  });
  let keys: Record<Role, string>;

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
    keys = await api.createKeys();
  });

  afterAll(async () => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (found.length) await redis.del(...found);
    } while (cursor !== "0");
    await redis.quit();
  });

  it("checks Redis in /health", async () => {
    const res = await api.call(undefined, { method: "GET", url: "/health" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "ok", database: { status: "ok" }, redis: { status: "ok" } });
  });

  it("serves the queue dashboard to admin keys only, asking browsers for the key as a Basic password", async () => {
    const none = await api.call(undefined, { method: "GET", url: "/admin/queues" });
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toMatch(/^Basic /);
    expect((await api.call(keys.editor, { method: "GET", url: "/admin/queues" })).statusCode).toBe(403);
    const page = await api.call(keys.admin, { method: "GET", url: "/admin/queues" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    const basic = Buffer.from(`anyone:${keys.admin}`).toString("base64");
    // The dashboard's scripts come through @fastify/static (pinned to the 9.x line that runs on Node 20).
    const script = /src="([^"]*static\/js\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await api.app.inject({
      method: "GET",
      url: new URL(script ?? "", "http://local/admin/queues/").pathname,
      headers: { authorization: `Basic ${basic}` },
    });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toContain("javascript");
    const queues = await api.app.inject({
      method: "GET",
      url: "/admin/queues/api/queues",
      headers: { authorization: `Basic ${basic}` },
    });
    expect(queues.statusCode).toBe(200);
    expect(
      queues
        .json()
        .queues.map((q: { name: string }) => q.name)
        .sort(),
    ).toEqual(["entities", "partitions", "rules", "webhooks"]);
  });

  it("answers the dashboard's own refusals in the API's error shape", async () => {
    const admin = { authorization: `Bearer ${keys.admin}` };
    // Sent as raw bytes: inject and fetch would resolve the dot segments before the dashboard sees them.
    const address = await api.app.listen({ port: 0, host: "127.0.0.1" });
    const answer = await new Promise<string>((resolve, reject) => {
      let out = "";
      const socket = net.connect(Number(new URL(address).port), "127.0.0.1", () =>
        socket.write(
          `GET /admin/queues/static/%2e%2e/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keys.admin}\r\nConnection: close\r\n\r\n`,
        ),
      );
      socket.on("data", (d) => (out += d));
      socket.on("close", () => resolve(out));
      socket.on("error", reject);
    });
    const forbidden = {
      statusCode: Number(answer.slice(9, 12)),
      json: () => JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)),
    };
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toEqual({
      error: { code: "forbidden", message: "the queue dashboard does not serve this path" },
    });
    const missing = await api.app.inject({
      method: "PUT",
      url: "/admin/queues/api/queues/nope/pause",
      headers: admin,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({ code: "not_found" });
    const viewer = await api.call(keys.viewer, { method: "GET", url: "/admin/queues" });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().error).toMatchObject({ code: "forbidden" });
  });

  it("queues rule runs for the workers", async () => {
    const res = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/runs",
      payload: { rules: ["power-users"] },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ queued: true, jobId: expect.any(String), rules: ["power-users"] });
  });
});

describe.skipIf(testBackend() !== "postgres" || backendUnavailable())(
  "the HTTP API when Redis is down",
  () => {
    const t = useTestDatabase();
    const api = useApi(t, { env: { REDIS_URL: "redis://127.0.0.1:1", SIGNALTAG_QUEUE_PREFIX: prefix } });

    it("reports Redis down in /health with 503 and keeps serving tagging", async () => {
      await t.reset();
      await addAccount(t.database, { id: "acc-1" });
      const keys = await api.createKeys();
      const health = await api.call(undefined, { method: "GET", url: "/health" });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({
        status: "down",
        database: { status: "ok" },
        redis: { status: "down" },
      });
      const tagged = await api.call(keys.editor, {
        method: "POST",
        url: "/v1/accounts/acc-1/tags",
        payload: { tag: "x" },
      });
      expect(tagged.statusCode).toBe(200);
    });
  },
);
