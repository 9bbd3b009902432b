import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { useIngestApi } from "../helpers/ingest.ts";

describe.skipIf(backendUnavailable())("an identify naming an account not known yet", () => {
  const t = useTestDatabase();
  const ingest = useIngestApi(t);

  const send = async (path: string, body: Record<string, unknown>) => {
    const res = await ingest.api.call(ingest.key, { method: "POST", url: path, payload: body });
    expect(res.statusCode, res.body).toBe(200);
  };
  const query = <T>(text: string) => rows<T>(t.database.db, sql.raw(text));
  const user = (id: string) =>
    query(`select account_id, email, name, attributes from users where id = '${id}'`);
  const waiting = () => query(`select kind, user_id, account_id from ingest_waiting order by id`);

  it("applies a known user's fields at once and lets only the account move wait for the group", async () => {
    await send("/v1/batch", {
      batch: [
        { type: "group", userId: "ann", groupId: "old", traits: { name: "Old" } },
        { type: "identify", userId: "ann", traits: { email: "ann@old.test", name: "Ann" } },
      ],
    });
    await send("/v1/identify", {
      userId: "ann",
      context: { groupId: "new" },
      traits: { email: "ann@new.test", plan: "pro" },
    });
    expect(await user("ann")).toEqual([
      { account_id: "old", email: "ann@new.test", name: "Ann", attributes: { plan: "pro" } },
    ]);
    expect(await waiting()).toEqual([{ kind: "member", user_id: "ann", account_id: "new" }]);

    // A later identify's fields win over the earlier one's, whose account move still waits.
    await send("/v1/identify", { userId: "ann", traits: { email: "ann@later.test", plan: "team" } });
    expect(await user("ann")).toEqual([
      { account_id: "old", email: "ann@later.test", name: "Ann", attributes: { plan: "team" } },
    ]);
    expect(await waiting()).toEqual([{ kind: "member", user_id: "ann", account_id: "new" }]);

    await send("/v1/group", { groupId: "new", traits: { name: "New" } });
    expect(await user("ann")).toEqual([
      { account_id: "new", email: "ann@later.test", name: "Ann", attributes: { plan: "team" } },
    ]);
    expect(await waiting()).toEqual([]);
  });

  it("keeps a new user whose only account is unknown waiting whole, and lets a later identify's fields win", async () => {
    await send("/v1/identify", {
      userId: "bob",
      context: { groupId: "newco" },
      traits: { email: "bob@first.test", name: "Bob", role: "admin" },
    });
    expect(await user("bob")).toEqual([]);
    expect(await waiting()).toEqual([{ kind: "identify", user_id: "bob", account_id: "newco" }]);

    await send("/v1/identify", { userId: "bob", traits: { email: "bob@second.test" } });
    expect(await user("bob")).toEqual([]);
    expect(await waiting()).toEqual([{ kind: "identify", user_id: "bob", account_id: "newco" }]);

    await send("/v1/group", { groupId: "newco", traits: {} });
    expect(await user("bob")).toEqual([
      { account_id: "newco", email: "bob@second.test", name: "Bob", attributes: { role: "admin" } },
    ]);
    expect(await waiting()).toEqual([]);
  });

  it("moves a user to a later identify's known account rather than the earlier waiting one's", async () => {
    await send("/v1/batch", {
      batch: [
        { type: "group", groupId: "a", traits: {} },
        { type: "identify", userId: "cy", context: { groupId: "a" }, traits: {} },
      ],
    });
    await send("/v1/identify", { userId: "cy", context: { groupId: "pending" }, traits: { name: "Cy" } });
    expect(await user("cy")).toEqual([{ account_id: "a", email: null, name: "Cy", attributes: {} }]);
    expect(await waiting()).toEqual([{ kind: "member", user_id: "cy", account_id: "pending" }]);
    await send("/v1/batch", {
      batch: [
        { type: "group", groupId: "b", traits: {} },
        { type: "identify", userId: "cy", context: { groupId: "b" }, traits: {} },
      ],
    });
    expect(await waiting()).toEqual([]);
    await send("/v1/group", { groupId: "pending", traits: {} });
    expect(await user("cy")).toEqual([{ account_id: "b", email: null, name: "Cy", attributes: {} }]);
  });
});
