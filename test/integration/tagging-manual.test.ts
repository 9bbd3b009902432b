import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { listTags } from "../../src/tags/catalog.ts";
import { noTagHooks } from "../../src/tags/changes.ts";
import { applyTag, removeTag } from "../../src/tags/manual.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, countRows } from "../helpers/workspace.ts";

const hostile = "x'); drop table users;--";
const emoji = "🔥 hot leads 🚀";

describe.skipIf(backendUnavailable())("tagging one entity by hand", () => {
  const t = useTestDatabase();
  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
    await addUser(t.database, { id: "u2", accountId: "acc-1" });
  });

  const events = () =>
    rows<{
      entity_id: string;
      tag: string;
      action: string;
      source: string;
      actor: string;
      membership_changed: boolean;
    }>(
      t.database.db,
      sql`select e.entity_id, t.name as tag, e.action, e.source, e.actor, e.membership_changed
          from tag_events e join tags t on t.id = e.tag_id order by e.id`,
    );

  it("adds a manual claim with the actor and records the entity gaining the tag", async () => {
    const result = await applyTag(
      t.database.db,
      { type: "user", id: "u1", tag: "vip", actor: "alice" },
      noTagHooks,
    );
    expect(result.changed).toBe(true);
    expect(result.tags).toEqual([
      { name: "vip", claims: [{ source: "manual", actor: "alice", since: expect.any(String) }] },
    ]);
    expect(await events()).toEqual([
      {
        entity_id: "u1",
        tag: "vip",
        action: "added",
        source: "manual",
        actor: "alice",
        membership_changed: true,
      },
    ]);
  });

  it("changes nothing when the entity already holds the tag by hand", async () => {
    await applyTag(t.database.db, { type: "user", id: "u1", tag: "vip", actor: "alice" }, noTagHooks);
    const again = await applyTag(
      t.database.db,
      { type: "user", id: "u1", tag: "VIP", actor: "bob" },
      noTagHooks,
    );
    expect(again.changed).toBe(false);
    expect(again.tag).toBe("vip");
    expect(await countRows(t.database, "tag_events")).toBe(1);
  });

  it("matches an existing tag case-insensitively and keeps its first spelling", async () => {
    await applyTag(
      t.database.db,
      { type: "user", id: "u1", tag: "Renewal Risk", actor: "alice" },
      noTagHooks,
    );
    const second = await applyTag(
      t.database.db,
      {
        type: "user",
        id: "u2",
        tag: "  renewal RISK ",
        actor: "alice",
      },
      noTagHooks,
    );
    expect(second.tag).toBe("Renewal Risk");
    expect((await listTags(t.database.db)).map((x) => x.name)).toEqual(["Renewal Risk"]);
  });

  it("stores hostile and emoji tag names verbatim and changes nothing else", async () => {
    const before = await rows<{ n: number }>(t.database.db, sql`select count(*)::int as n from users`);
    await applyTag(t.database.db, { type: "user", id: "u1", tag: hostile, actor: "alice" }, noTagHooks);
    await applyTag(t.database.db, { type: "account", id: "acc-1", tag: emoji, actor: "alice" }, noTagHooks);
    const tags = await listTags(t.database.db);
    expect(tags.map((x) => [x.name, x.accounts, x.users]).sort()).toEqual(
      [
        [emoji, 1, 0],
        [hostile, 0, 1],
      ].sort(),
    );
    const after = await rows<{ n: number }>(t.database.db, sql`select count(*)::int as n from users`);
    expect(after).toEqual(before);
    expect(await countRows(t.database, "claims")).toBe(2);
  });

  it("refuses empty, blank and over-long names", async () => {
    for (const tag of ["", "   ", "x".repeat(201)]) {
      await expect(
        applyTag(t.database.db, { type: "user", id: "u1", tag, actor: "a" }, noTagHooks),
      ).rejects.toMatchObject({
        code: "invalid_tag_name",
      });
    }
    await expect(
      applyTag(t.database.db, { type: "user", id: "u1", tag: "é".repeat(200), actor: "a" }, noTagHooks),
    ).resolves.toMatchObject({ changed: true });
    expect(await countRows(t.database, "claims")).toBe(1);
  });

  it("refuses an unknown entity and writes nothing", async () => {
    await expect(
      applyTag(t.database.db, { type: "user", id: "nobody", tag: "vip", actor: "a" }, noTagHooks),
    ).rejects.toMatchObject({ code: "not_found" });
    expect(await countRows(t.database, "tag_events")).toBe(0);
  });

  it("removes every claim on the tag, whatever its source, with one event per claim", async () => {
    await applyTag(t.database.db, { type: "user", id: "u1", tag: "power users", actor: "alice" }, noTagHooks);
    await t.database.db.execute(
      sql`insert into claims (source, tag_id, entity_type, entity_id) select 'rule:power-users', id, 'user', 'u1' from tags`,
    );
    const result = await removeTag(
      t.database.db,
      {
        type: "user",
        id: "u1",
        tag: "Power Users",
        actor: "bob",
      },
      noTagHooks,
    );
    expect(result.changed).toBe(true);
    expect(result.tags).toEqual([]);
    expect(result.claims.map((c) => c.source).sort()).toEqual(["manual", "rule:power-users"]);
    const removed = (await events()).filter((e) => e.action === "removed");
    expect(removed).toHaveLength(2);
    expect(removed.filter((e) => e.membership_changed)).toHaveLength(1);
    expect(removed.every((e) => e.actor === "bob")).toBe(true);
    expect(await countRows(t.database, "claims")).toBe(0);
  });

  it("records a claim added beside another source as no change of membership", async () => {
    await t.database.db.execute(sql`insert into tags (name) values ('power users')`);
    await t.database.db.execute(
      sql`insert into claims (source, tag_id, entity_type, entity_id) select 'rule:power-users', id, 'user', 'u1' from tags`,
    );
    await applyTag(t.database.db, { type: "user", id: "u1", tag: "power users", actor: "alice" }, noTagHooks);
    expect((await events()).map((e) => e.membership_changed)).toEqual([false]);
  });

  it("removing a tag the entity lacks changes nothing", async () => {
    const result = await removeTag(
      t.database.db,
      {
        type: "user",
        id: "u1",
        tag: "never-seen",
        actor: "bob",
      },
      noTagHooks,
    );
    expect(result.changed).toBe(false);
    expect(await countRows(t.database, "tag_events")).toBe(0);
    expect(await listTags(t.database.db)).toEqual([]);
  });
});
