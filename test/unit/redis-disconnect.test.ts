import net from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
// Loading the queue's connection module installs the guard, as it does in every worker.
import "../../src/jobs/connection.ts";

/** A port nothing listens on: connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("a Redis connection disconnected while it waits to reconnect", () => {
  it("ends (BullMQ's Worker.close() waits for that), and fails what was queued on it", async () => {
    const redis = new Redis(`redis://127.0.0.1:${await closedPort()}`, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      retryStrategy: () => 5000,
    });
    redis.on("error", () => {});
    redis.connect().catch(() => {});
    const reconnecting = new Promise<void>((resolve) => redis.once("reconnecting", () => resolve()));
    await reconnecting;
    expect(redis.status).toBe("reconnecting");
    const queued = redis.ping().then(
      () => "answered",
      (err: Error) => err.message,
    );
    const ended = new Promise((resolve) => redis.once("end", () => resolve("end")));
    redis.disconnect();
    // Without the guard nothing comes: 4 s is well within the retry it was waiting for.
    const outcome = await Promise.race([ended, new Promise((r) => setTimeout(r, 4000, "no end"))]);
    expect(outcome).toBe("end");
    expect(redis.status).toBe("end");
    expect(await queued).toBe("Connection is closed.");
  });
});
