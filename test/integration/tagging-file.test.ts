import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { noTagHooks } from "../../src/tags/changes.ts";
import { importTagsFile } from "../../src/tags/file-import.ts";
import { applyTag } from "../../src/tags/manual.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, countRows } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("importing a tags file", () => {
  const t = useTestDatabase();
  const opts = { source: "tags.csv", actor: "ops" };

  beforeEach(async () => {
    await t.reset();
    for (const id of ["a1", "a2", "a3", "a4"]) await addAccount(t.database, { id });
  });

  const state = () =>
    rows<{ entity_id: string; tag: string; source: string }>(
      t.database.db,
      sql`select c.entity_id, t.name as tag, c.source from claims c join tags t on t.id = c.tag_id
          order by c.entity_id, t.name, c.source`,
    );
  const history = () =>
    rows(
      t.database.db,
      sql`select entity_id, tag_id, action, source, actor, membership_changed from tag_events order by id`,
    );

  it("adds file claims for yes/true, removes every claim for no/false and leaves blanks alone", async () => {
    await applyTag(t.database.db, { type: "account", id: "a2", tag: "vip", actor: "alice" }, noTagHooks);
    await applyTag(
      t.database.db,
      { type: "account", id: "a3", tag: "churn risk", actor: "alice" },
      noTagHooks,
    );
    const file = [
      "account_id,tag##vip,tag##churn risk",
      "a1,yes,",
      "a2,False,TRUE",
      "a3,,no",
      "a4,,",
      "",
    ].join("\n");
    const result = await importTagsFile(t.database.db, file, opts, noTagHooks);
    expect(result).toMatchObject({
      entityType: "account",
      tags: ["vip", "churn risk"],
      rows: 4,
      appliedRows: 4,
      addedCount: 2,
      removedCount: 2,
      membershipsAdded: 2,
      membershipsRemoved: 2,
      refused: false,
      unknownIds: [],
      problems: [],
    });
    expect(await state()).toEqual([
      { entity_id: "a1", tag: "vip", source: "file" },
      { entity_id: "a2", tag: "churn risk", source: "file" },
    ]);
  });

  it("reports in a dry run exactly what the upload then does, and writes nothing", async () => {
    await applyTag(t.database.db, { type: "account", id: "a1", tag: "VIP", actor: "alice" }, noTagHooks);
    await applyTag(t.database.db, { type: "account", id: "a4", tag: "beta", actor: "alice" }, noTagHooks);
    const file =
      "account_id,tag##vip,tag##beta,tag##new one\na1,yes,no,yes\na2,yes,,\na3,no,no,\na4,true,false,\n";
    const claimsBefore = await state();
    const eventsBefore = await countRows(t.database, "tag_events");
    const dry = await importTagsFile(t.database.db, file, { ...opts, dryRun: true }, noTagHooks);
    expect(await state()).toEqual(claimsBefore);
    expect(await countRows(t.database, "tag_events")).toBe(eventsBefore);
    expect((await rows(t.database.db, sql`select name from tags order by id`)).length).toBe(2);

    const real = await importTagsFile(t.database.db, file, opts, noTagHooks);
    expect({ ...dry, dryRun: false }).toEqual(real);
    expect(dry.tags).toEqual(["VIP", "beta", "new one"]);
    const after = await state();
    const added = after.filter((c) => !claimsBefore.some((b) => JSON.stringify(b) === JSON.stringify(c)));
    const removed = claimsBefore.filter((b) => !after.some((c) => JSON.stringify(b) === JSON.stringify(c)));
    expect(added.map((c) => [c.entity_id, c.tag, c.source])).toEqual(
      dry.added.map((c) => [c.entityId, c.tag, c.source]).sort(),
    );
    expect(removed.map((c) => [c.entity_id, c.tag, c.source])).toEqual(
      dry.removed.map((c) => [c.entityId, c.tag, c.source]).sort(),
    );
  });

  it("refuses a file with an unknown id, listing it with its line, and changes nothing", async () => {
    const file = "account_id,tag##vip\na1,yes\nnope,yes\na2,yes\n";
    await expect(importTagsFile(t.database.db, file, opts, noTagHooks)).rejects.toMatchObject({
      code: "unknown_ids",
      details: { unknownIds: [{ id: "nope", line: 3 }] },
    });
    expect(await countRows(t.database, "claims")).toBe(0);
    expect(await rows(t.database.db, sql`select * from tags`)).toEqual([]);
    const dry = await importTagsFile(t.database.db, file, { ...opts, dryRun: true }, noTagHooks);
    expect(dry).toMatchObject({ refused: true, unknownIds: [{ id: "nope", line: 3 }], addedCount: 2 });
    const skipping = await importTagsFile(t.database.db, file, { ...opts, skipInvalid: true }, noTagHooks);
    expect(skipping).toMatchObject({ refused: false, addedCount: 2, appliedRows: 2 });
  });

  it("refuses bad values and duplicate ids with their line numbers", async () => {
    const file = "account_id,tag##vip\na1,maybe\na2,yes\na2,no\n,yes\na3,yes,extra\n";
    const attempt = importTagsFile(t.database.db, file, opts, noTagHooks);
    await expect(attempt).rejects.toMatchObject({ code: "invalid_file" });
    await expect(importTagsFile(t.database.db, file, opts, noTagHooks)).rejects.toThrow(
      /line 2, column "tag##vip"/,
    );
    const dry = await importTagsFile(t.database.db, file, { ...opts, dryRun: true }, noTagHooks);
    expect(dry.problems.map((p) => p.line)).toEqual([2, 4, 5, 6]);
    expect(await history()).toEqual([]);
  });

  it("refuses a header without an id column, with unknown columns or a tag twice", async () => {
    for (const [header, message] of [
      ["tag##vip", /account_id or a user_id column/],
      ["account_id,vip", /unknown column "vip"/],
      ["account_id,tag##VIP,tag##vip", /two columns/],
      ["account_id,user_id,tag##vip", /both account_id and user_id/],
      ["account_id", /no tag##<name> column/],
      ["account_id,tag##", /must not be empty/],
    ] as const) {
      await expect(importTagsFile(t.database.db, `${header}\n`, opts, noTagHooks)).rejects.toThrow(message);
    }
  });

  it("tags users from a user_id file and keeps hostile names verbatim", async () => {
    await t.database.db.execute(
      sql`insert into users (id, account_id, created_at) values ('u1', 'a1', now()), ('u2', 'a1', now())`,
    );
    const hostile = "x'); drop table users;--";
    const file = `user_id,"tag##${hostile}",tag##🚀 launch\nu1,yes,yes\nu2,,yes\n`;
    const result = await importTagsFile(t.database.db, file, opts, noTagHooks);
    expect(result.tags).toEqual([hostile, "🚀 launch"]);
    expect((await state()).map((c) => c.tag).sort()).toEqual([hostile, "🚀 launch", "🚀 launch"].sort());
    expect(await countRows(t.database, "claims")).toBe(3);
  });
});
