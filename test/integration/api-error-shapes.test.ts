import net from "node:net";
import { describe, expect, it } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { loadConfig } from "../../src/config.ts";
import { type Database, openPglite, openPostgres } from "../../src/db/client.ts";
import { MAX_PATH_SEGMENT_LENGTH } from "../../src/limits.ts";
import { useApi } from "../helpers/api.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

/** Sends raw bytes to the server and returns the status line and body it answered. */
async function rawRequest(port: number, request: string): Promise<{ status: number; body: unknown }> {
  const answer = await new Promise<string>((resolve, reject) => {
    let out = "";
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    socket.on("data", (d) => (out += d));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  return { status, body: JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) };
}

const errorShape = { error: { code: expect.any(String), message: expect.any(String) } };

describe.skipIf(backendUnavailable())("errors before any route runs", () => {
  const t = useTestDatabase();
  const api = useApi(t);

  it("answers a path segment past the router's limit with 414 in the error shape, not echoing the path", async () => {
    const res = await api.call(undefined, {
      method: "GET",
      url: `/v1/users/${"a".repeat(MAX_PATH_SEGMENT_LENGTH + 1)}`,
    });
    expect(res.statusCode).toBe(414);
    expect(res.json()).toEqual({
      error: {
        code: "uri_too_long",
        message: expect.stringContaining(`${MAX_PATH_SEGMENT_LENGTH} characters`),
      },
    });
    expect(res.body).not.toContain("aaaa");
  });

  it("answers headers too large (431), a URL too large (431) and a request that is not HTTP (400) in the error shape", async () => {
    const address = await api.app.listen({ port: 0, host: "127.0.0.1" });
    const port = Number(new URL(address).port);
    const big = await rawRequest(
      port,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expect(big).toEqual({ status: 431, body: errorShape });
    expect((big.body as { error: { code: string } }).error.code).toBe("headers_too_large");
    const longUrl = await rawRequest(
      port,
      `GET /v1/users/a?x=${"a".repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(longUrl.status).toBe(431);
    expect(longUrl.body).toEqual(errorShape);
    const garbage = await rawRequest(port, "NOT HTTP AT ALL\r\n\r\n");
    expect(garbage).toEqual({ status: 400, body: errorShape });
  });
});

describe.skipIf(backendUnavailable())("/health when the database is unreachable", () => {
  const t = useTestDatabase();

  it("says so in its own words, with no SQL or driver text, and needs no key", async () => {
    // A database of the server's own, closed before the request: every query fails in the driver.
    const database: Database =
      testBackend() === "postgres" ? await openPostgres(t.url!) : await openPglite(undefined);
    await database.close();
    const app = await buildServer({ database, config: loadConfig({}), logger: false });
    try {
      const res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        status: "down",
        database: { status: "down", latencyMs: expect.any(Number), error: "database unreachable" },
      });
      expect(res.body).not.toMatch(/select|query|failed|postgres|pglite|closed|ended/i);
    } finally {
      await app.close();
    }
  });
});
