import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { useIngestApi } from "../helpers/ingest.ts";

/** What Segment's browser library needs of the tracking API; test/e2e/tracking-browser.test.ts drives the library itself. */
describe.skipIf(backendUnavailable())("the tracking API for web pages", () => {
  const t = useTestDatabase();
  const ingest = useIngestApi(t);

  const send = (path: string, body: unknown) =>
    ingest.api.call(ingest.key, { method: "POST", url: path, payload: body as object });
  const query = <T>(text: string) => rows<T>(t.database.db, sql.raw(text));

  it("takes page, screen and alias on routes of their own, and the browser library's short paths", async () => {
    for (const type of ["page", "screen", "alias"]) {
      const res = await send(`/v1/${type}`, { userId: "ada", name: "Pricing", previousId: "anon-1" });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ success: true });
    }
    const group = { groupId: "acme", userId: "ada", traits: { name: "Acme" } };
    // The short paths of Segment's browser library take text/plain JSON with the write key in the body.
    const plain = (path: string, body: object) =>
      ingest.api.app.inject({
        method: "POST",
        url: path,
        headers: { "content-type": "text/plain" },
        payload: JSON.stringify({ ...body, writeKey: ingest.key }),
      });
    expect((await plain("/v1/g", group)).statusCode).toBe(200);
    expect((await plain("/v1/i", { userId: "ada", traits: { email: "ada@acme.test" } })).statusCode).toBe(
      200,
    );
    expect((await plain("/v1/t", { userId: "ada", event: "export", messageId: "t1" })).statusCode).toBe(200);
    expect((await plain("/v1/p", { userId: "ada", name: "Pricing" })).statusCode).toBe(200);
    expect(
      (await plain("/v1/b", { batch: [{ type: "track", userId: "ada", event: "export", messageId: "b1" }] }))
        .statusCode,
    ).toBe(200);
    const wrongType = await plain("/v1/t", { type: "identify", userId: "ada" });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.message).toMatch(/takes track messages, not identify/);
    expect(await query(`select event_id from activity_events order by 1`)).toEqual([
      { event_id: "b1" },
      { event_id: "t1" },
    ]);
    expect(await query(`select email from users`)).toEqual([{ email: "ada@acme.test" }]);
  });

  it("lets any origin post usage and read the answer, and nothing else of the API", async () => {
    const refused = await ingest.api.app.inject({
      method: "POST",
      url: "/v1/track",
      headers: {
        origin: "https://app.example",
        authorization: `Basic ${Buffer.from("stk_not-a-key:").toString("base64")}`,
      },
      payload: { userId: "ada", event: "export" },
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers["access-control-allow-origin"]).toBe("*");
    const asked = await ingest.api.app.inject({
      method: "OPTIONS",
      url: "/v1/batch",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-product-build",
      },
    });
    expect(asked.statusCode).toBe(204);
    expect(asked.headers).toMatchObject({
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "POST",
      "access-control-allow-headers": "authorization, content-type, x-product-build",
    });
    // A list that is not header names is not echoed back.
    const odd = await ingest.api.app.inject({
      method: "OPTIONS",
      url: "/v1/t",
      headers: { "access-control-request-headers": "x-a; set-cookie=a" },
    });
    expect(odd.headers["access-control-allow-headers"]).toBe("Authorization, Content-Type, Content-Encoding");
    // The rest of the API stays same-origin: the console is served from signaltag itself.
    const { admin } = await ingest.api.createKeys();
    const other = await ingest.api.call(admin, {
      method: "GET",
      url: "/v1/tags",
      headers: { origin: "https://app.example" },
    });
    expect(other.statusCode).toBe(200);
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
