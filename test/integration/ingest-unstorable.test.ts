import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { useIngestApi } from "../helpers/ingest.ts";

/** A JSON body as a client would send it: escapes such as \u0000 and \ud800 stay escapes on the wire. */
const wire = (body: unknown) => JSON.stringify(body);

describe.skipIf(backendUnavailable())("tracking-API messages holding text Postgres cannot store", () => {
  const t = useTestDatabase();
  const ingest = useIngestApi(t);

  const send = (path: string, body: unknown) =>
    ingest.api.call(ingest.key, {
      method: "POST",
      url: path,
      headers: { "content-type": "application/json" },
      payload: wire(body),
    });
  const query = <T>(text: string) => rows<T>(t.database.db, sql.raw(text));

  it("answers each bad message by index and field, and stores the rest of the batch", async () => {
    const track = (n: number, extra: Record<string, unknown>) => ({
      type: "track",
      userId: "u1",
      event: "login",
      messageId: `m${n}`,
      timestamp: "2026-03-01T10:00:00Z",
      ...extra,
    });
    const res = await send("/v1/batch", {
      batch: [
        { type: "group", userId: "u1", groupId: "acme", traits: { name: "Acme" } },
        { type: "identify", userId: "u1", traits: { email: "a@acme.test" } },
        track(2, {}),
        track(3, { event: "log\u0000in" }),
        track(4, { userId: "u\ud800" }),
        { type: "identify", userId: "u1", traits: { note: { deep: ["ok", "bad\u0000"] } } },
        { type: "identify", userId: "u1", traits: { "pl\u0000an": "pro" } },
        { type: "group", groupId: "acme", traits: { motto: "\udc00lone" } },
        track(8, { context: { groupId: "ac\u0000me" } }),
        track(9, { properties: { module: "rep\ud83d" } }),
        { type: "group", groupId: "acme", traits: { renewal_date: "2026-02-30" } },
        // Not stored, so not refused: a page and an anonymous message are accepted and ignored.
        { type: "page", userId: "u1", name: "Ho\u0000me" },
        { type: "track", anonymousId: "an\u0000on", event: "visited" },
        // An emoji's surrogate pair is one character: stored.
        track(13, { event: "🚀 launched", properties: { module: "ro\u{1f680}ket" } }),
      ],
    });
    expect(res.statusCode, res.body).toBe(400);
    const error = res.json().error;
    expect(error.code).toBe("invalid_message");
    expect(error.message).toMatch(/^batch\[3\]: event contains a NUL character \(\\u0000\)/);
    expect(error.invalid).toEqual([
      { index: 3, message: expect.stringMatching(/^event contains a NUL character/) },
      { index: 4, message: expect.stringMatching(/^userId contains a lone UTF-16 surrogate \(\\ud800\)/) },
      { index: 5, message: expect.stringMatching(/^traits\.note\.deep\[1\] contains a NUL character/) },
      { index: 6, message: expect.stringMatching(/^traits key "pl\\u0000an" contains a NUL character/) },
      {
        index: 7,
        message: expect.stringMatching(/^traits\.motto contains a lone UTF-16 surrogate \(\\udc00\)/),
      },
      { index: 8, message: expect.stringMatching(/^context\.groupId contains a NUL character/) },
      { index: 9, message: expect.stringMatching(/^properties\.module contains a lone UTF-16 surrogate/) },
      { index: 10, message: expect.stringMatching(/^traits\.renewal_date must be a date/) },
    ]);
    expect(await query(`select id, name from accounts`)).toEqual([{ id: "acme", name: "Acme" }]);
    expect(await query(`select id, email, attributes from users`)).toEqual([
      { id: "u1", email: "a@acme.test", attributes: {} },
    ]);
    expect(await query(`select event_id, activity, module from activity_events order by event_id`)).toEqual([
      { event_id: "m13", activity: "🚀 launched", module: "ro\u{1f680}ket" },
      { event_id: "m2", activity: "login", module: null },
    ]);
  });

  it("refuses a trait named __proto__ by its index, not the whole batch, and stores constructor.prototype", async () => {
    const res = await send("/v1/batch", {
      batch: [
        { type: "group", userId: "u1", groupId: "acme", traits: {} },
        // JSON.parse keeps "__proto__" as a key of its own; JSON.stringify writes it out again.
        JSON.parse('{"type": "identify", "userId": "u1", "traits": {"__proto__": {"admin": true}}}'),
        { type: "identify", userId: "u1", traits: { constructor: { prototype: { plan: "pro" } } } },
      ],
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.invalid).toEqual([
      { index: 1, message: expect.stringMatching(/^traits key "__proto__" cannot be an attribute name/) },
    ]);
    expect(await query(`select id, account_id, attributes from users`)).toEqual([
      { id: "u1", account_id: "acme", attributes: { constructor: { prototype: { plan: "pro" } } } },
    ]);
  });

  it("answers a single bad message with 400 naming the field, and nothing stored", async () => {
    const res = await send("/v1/identify", { userId: "u\u0000", traits: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: "invalid_message",
      message: expect.stringMatching(/^the message: userId contains a NUL character/),
    });
    expect(await query(`select count(*)::int as n from ingest_waiting`)).toEqual([{ n: 0 }]);
  });
});
