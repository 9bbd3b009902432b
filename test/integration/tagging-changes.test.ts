import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { bulkTagSegment } from "../../src/segments/bulk.ts";
import { bulkTag } from "../../src/tags/bulk.ts";
import type { EntitiesChanged, TagHooks } from "../../src/tags/changes.ts";
import { importTagsFile } from "../../src/tags/file-import.ts";
import { applyTag, removeTag } from "../../src/tags/manual.ts";
import { liftSuppression, suppress } from "../../src/tags/suppress.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, claimsOf } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("what the hooks hear of tags changes", () => {
  const t = useTestDatabase();
  let heard: EntitiesChanged[];
  /** Records each event with the claims on `tag` as the hooks' caller sees them then. */
  const listen = (tag?: string) => {
    const seen: { event: EntitiesChanged; claims?: { entity_id: string; source: string }[] }[] = [];
    const hooks: TagHooks = {
      async entitiesChanged(event) {
        heard.push(event);
        seen.push({ event, ...(tag ? { claims: await claimsOf(t.database, tag) } : {}) });
      },
    };
    return { hooks, seen };
  };
  const actor = "alice";

  beforeEach(async () => {
    heard = [];
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    for (const id of ["u1", "u2", "u3"]) await addUser(t.database, { id, accountId: "acc-1" });
  });

  it("tells of an entity that gained or lost a tag by hand, and of nothing when no membership changed", async () => {
    const { hooks } = listen();
    const db = t.database.db;
    await applyTag(db, { type: "user", id: "u1", tag: "vip", actor }, hooks);
    await applyTag(db, { type: "user", id: "u1", tag: "VIP", actor: "bob" }, hooks);
    await removeTag(db, { type: "user", id: "u1", tag: "vip", actor }, hooks);
    await removeTag(db, { type: "user", id: "u1", tag: "vip", actor }, hooks);
    expect(heard).toEqual([
      { type: "user", ids: ["u1"], change: "tags" },
      { type: "user", ids: ["u1"], change: "tags" },
    ]);
  });

  it("tells of the entities a bulk or segment change moved, once the change has committed", async () => {
    const db = t.database.db;
    const vip = listen("vip");
    await applyTag(db, { type: "user", id: "u1", tag: "vip", actor }, vip.hooks);
    await bulkTag(db, { action: "add", type: "user", tag: "vip", ids: ["u1", "u2"], actor }, vip.hooks);
    expect(vip.seen.map((s) => s.event.ids)).toEqual([["u1"], ["u2"]]);
    expect(vip.seen[1]!.claims).toEqual([
      { entity_id: "u1", source: "bulk" },
      { entity_id: "u1", source: "manual" },
      { entity_id: "u2", source: "bulk" },
    ]);

    const beta = listen("beta");
    const clock = { asOf: new Date(), timezone: "UTC" };
    await bulkTagSegment(
      db,
      { type: "user", notTagged: ["vip"] },
      { ...clock, action: "add", tag: "beta", actor },
      beta.hooks,
    );
    expect(beta.seen).toEqual([
      {
        event: { type: "user", ids: ["u3"], change: "tags" },
        claims: [{ entity_id: "u3", source: "bulk" }],
      },
    ]);
  });

  it("tells nothing of a refused bulk change or a dry run, and of every entity a tags file moved", async () => {
    const { hooks } = listen();
    const db = t.database.db;
    await expect(
      bulkTag(db, { action: "add", type: "user", tag: "vip", ids: ["u1", "nobody"], actor }, hooks),
    ).rejects.toMatchObject({ code: "unknown_ids" });
    await applyTag(db, { type: "user", id: "u2", tag: "vip", actor }, hooks);
    heard = [];
    const file = "user_id,tag##vip\nu1,yes\nu2,no\nu3,\n";
    await importTagsFile(db, file, { source: "f.csv", actor, dryRun: true }, hooks);
    expect(heard).toEqual([]);
    await importTagsFile(db, file, { source: "f.csv", actor }, hooks);
    expect(heard).toEqual([{ type: "user", ids: ["u1", "u2"], change: "tags" }]);
  });

  it("tells of a suppression that took a rule's claim, and of a lift only while the suppression was in force", async () => {
    const { hooks } = listen();
    const db = t.database.db;
    await db.execute(sql`insert into tags (name) values ('power users')`);
    await db.execute(sql`
      insert into claims (source, tag_id, entity_type, entity_id)
      select 'rule:power-users', id, 'user', 'u1' from tags where name = 'power users'`);
    const nothing = await suppress(db, { type: "user", id: "u2", tag: "power users", actor }, hooks);
    expect(heard).toEqual([]);
    await suppress(db, { type: "user", id: "u1", tag: "power users", actor }, hooks);
    expect(heard).toEqual([{ type: "user", ids: ["u1"], change: "tags" }]);

    heard = [];
    await liftSuppression(db, { id: nothing.suppression.id, actor }, hooks);
    await liftSuppression(db, { id: nothing.suppression.id, actor }, hooks);
    expect(heard).toEqual([{ type: "user", ids: ["u2"], change: "lift" }]);

    heard = [];
    const ended = await suppress(
      db,
      {
        type: "user",
        id: "u3",
        tag: "power users",
        actor,
        until: new Date("2026-01-02T00:00:00Z"),
        now: new Date("2026-01-01T00:00:00Z"),
      },
      hooks,
    );
    await liftSuppression(
      db,
      { id: ended.suppression.id, actor, now: new Date("2026-01-03T00:00:00Z") },
      hooks,
    );
    expect(heard).toEqual([]);
  });
});
