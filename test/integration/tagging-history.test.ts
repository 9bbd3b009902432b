import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { bulkTag } from "../../src/tags/bulk.ts";
import { noTagHooks } from "../../src/tags/changes.ts";
import { importTagsFile } from "../../src/tags/file-import.ts";
import { historyOf, membersOf } from "../../src/tags/history.ts";
import { applyTag, removeTag } from "../../src/tags/manual.ts";
import { profileOf } from "../../src/tags/profile.ts";
import { liftSuppression, suppress } from "../../src/tags/suppress.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  addUser,
  claimsOf,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("history, membership as of an instant, and suppressions", () => {
  const t = useTestDatabase();
  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    for (const id of ["u1", "u2", "u3", "u4"]) await addUser(t.database, { id, accountId: "acc-1" });
  });

  const dbNow = async () =>
    (await rows<{ t: string }>(t.database.db, sql`select clock_timestamp()::text as t`))[0]!.t;
  const currentMembers = async (tag: string) =>
    (await claimsOf(t.database, tag)).map((c) => c.entity_id).filter((id, i, all) => all.indexOf(id) === i);

  it("membership as of each past instant agrees with the claims then and with replaying each entity's history", async () => {
    const db = t.database.db;
    const snapshots: { at: string; members: string[] }[] = [];
    const snap = async () => snapshots.push({ at: await dbNow(), members: await currentMembers("beta") });
    await snap();
    await applyTag(db, { type: "user", id: "u1", tag: "beta", actor: "a" }, noTagHooks);
    await snap();
    await bulkTag(
      db,
      { action: "add", type: "user", tag: "beta", ids: ["u1", "u2", "u3"], actor: "b" },
      noTagHooks,
    );
    await snap();
    await removeTag(db, { type: "user", id: "u2", tag: "beta", actor: "a" }, noTagHooks);
    await snap();
    await importTagsFile(
      db,
      "user_id,tag##beta\nu1,no\nu4,yes\nu3,\n",
      { source: "f.csv", actor: "c" },
      noTagHooks,
    );
    await snap();
    await applyTag(db, { type: "user", id: "u1", tag: "beta", actor: "a" }, noTagHooks);
    await bulkTag(db, { action: "remove", type: "user", tag: "beta", ids: ["u3"], actor: "b" }, noTagHooks);
    await snap();

    const replay = async (at: string) => {
      const members: string[] = [];
      for (const id of ["u1", "u2", "u3", "u4"]) {
        const { entries } = await historyOf(db, { type: "user", id, tag: "beta", limit: 1000 });
        const last = new Map<string, string>();
        for (const e of [...entries].reverse()) {
          if (e.kind === "tag" && Date.parse(e.at) <= Date.parse(at)) last.set(e.source!, e.action);
        }
        if ([...last.values()].includes("added")) members.push(id);
      }
      return members;
    };
    for (const s of snapshots) {
      const page = await membersOf(db, { tag: "beta", type: "user", asOf: new Date(s.at) });
      expect(page.ids, `as of ${s.at}`).toEqual(s.members);
      expect(await replay(s.at), `replay as of ${s.at}`).toEqual(s.members);
    }
    expect(snapshots.map((s) => s.members)).toEqual([
      [],
      ["u1"],
      ["u1", "u2", "u3"],
      ["u1", "u3"],
      ["u3", "u4"],
      ["u1", "u4"],
    ]);
  });

  it("paginates members and history with cursors", async () => {
    const db = t.database.db;
    await bulkTag(
      db,
      {
        action: "add",
        type: "user",
        tag: "beta",
        ids: ["u1", "u2", "u3", "u4"],
        actor: "b",
      },
      noTagHooks,
    );
    const first = await membersOf(db, { tag: "beta", type: "user", limit: 3 });
    expect(first.ids).toEqual(["u1", "u2", "u3"]);
    const second = await membersOf(db, { tag: "beta", type: "user", limit: 3, cursor: first.nextCursor! });
    expect(second).toMatchObject({ ids: ["u4"], nextCursor: null });
    for (let i = 0; i < 3; i++) {
      await applyTag(db, { type: "user", id: "u1", tag: `t${i}`, actor: "a" }, noTagHooks);
    }
    const all = await historyOf(db, { type: "user", id: "u1" });
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await historyOf(db, { type: "user", id: "u1", limit: 2, cursor });
      paged.push(...page.entries.map((e) => `${e.tag}:${e.action}`));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual(all.entries.map((e) => `${e.tag}:${e.action}`));
    expect(paged).toEqual(["t2:added", "t1:added", "t0:added", "beta:added"]);
    expect(all.entries[0]?.summary).toBe("gained the tag: added by hand by a");
  });

  it("a suppression is respected by the next rule run and lifted on its date", async () => {
    const T = "2026-03-31T12:00:00Z";
    await addActivity(t.database, { userId: "u1", accountId: "acc-1", days: lastDays("2026-04-20", 50) });
    const dir = rulesDir([powerUsersRule()]);
    const run = (asOf: string) =>
      runCli(t.database, ["run", "--as-of", asOf, "--json"], { SIGNALTAG_RULES_DIR: dir });
    expect((await run(T)).code).toBe(0);
    expect(await claimsOf(t.database, "power users")).toEqual([
      { entity_id: "u1", source: "rule:power-users" },
    ]);

    const { suppression, removedClaims } = await suppress(
      t.database.db,
      {
        type: "user",
        id: "u1",
        tag: "power users",
        ruleId: "power-users",
        until: new Date("2026-04-10T00:00:00Z"),
        reason: "customer asked",
        actor: "alice",
        now: new Date(T),
      },
      noTagHooks,
    );
    expect(removedClaims).toEqual(["rule:power-users"]);
    expect(suppression).toMatchObject({
      status: "active",
      ruleId: "power-users",
      until: "2026-04-10T00:00:00.000Z",
    });
    expect(await claimsOf(t.database, "power users")).toEqual([]);

    await run("2026-04-05T12:00:00Z");
    expect(await claimsOf(t.database, "power users")).toEqual([]);
    await run("2026-04-11T12:00:00Z");
    expect(await claimsOf(t.database, "power users")).toEqual([
      { entity_id: "u1", source: "rule:power-users" },
    ]);

    const profile = await profileOf(t.database.db, "user", "u1", new Date(T));
    expect(profile.suppressions).toMatchObject([{ id: suppression.id, status: "active" }]);
    const history = await historyOf(t.database.db, {
      type: "user",
      id: "u1",
      now: new Date("2026-04-12T00:00:00Z"),
    });
    expect(history.entries.map((e) => `${e.kind}:${e.action}`)).toContain("suppression:suppressed");
    expect(history.entries.map((e) => `${e.kind}:${e.action}`)).toContain("suppression:expired");
  });

  it("lifting a suppression lets the rule claim the tag on its next run", async () => {
    const T = "2026-03-31T12:00:00Z";
    await addActivity(t.database, { userId: "u1", accountId: "acc-1", days: lastDays("2026-03-31", 25) });
    const dir = rulesDir([powerUsersRule()]);
    const run = () => runCli(t.database, ["run", "--as-of", T, "--json"], { SIGNALTAG_RULES_DIR: dir });
    await run();
    await applyTag(t.database.db, { type: "user", id: "u1", tag: "power users", actor: "alice" }, noTagHooks);
    const { suppression } = await suppress(
      t.database.db,
      {
        type: "user",
        id: "u1",
        tag: "power users",
        actor: "alice",
      },
      noTagHooks,
    );
    expect(await claimsOf(t.database, "power users")).toEqual([{ entity_id: "u1", source: "manual" }]);
    await run();
    expect(await claimsOf(t.database, "power users")).toEqual([{ entity_id: "u1", source: "manual" }]);
    const lifted = await liftSuppression(t.database.db, { id: suppression.id, actor: "bob" }, noTagHooks);
    expect(lifted).toMatchObject({ changed: true, suppression: { status: "lifted", liftedBy: "bob" } });
    expect(
      (await liftSuppression(t.database.db, { id: suppression.id, actor: "bob" }, noTagHooks)).changed,
    ).toBe(false);
    await run();
    expect(await claimsOf(t.database, "power users")).toEqual([
      { entity_id: "u1", source: "manual" },
      { entity_id: "u1", source: "rule:power-users" },
    ]);
    const history = await historyOf(t.database.db, { type: "user", id: "u1" });
    expect(history.entries.map((e) => `${e.kind}:${e.action}:${e.source}`).slice(0, 2)).toEqual([
      "tag:added:rule:power-users",
      "suppression:lifted:null",
    ]);
  });

  it("refuses a suppression for an unknown rule or a past date", async () => {
    await expect(
      suppress(
        t.database.db,
        { type: "user", id: "u1", tag: "x", ruleId: "powr-users", actor: "a" },
        noTagHooks,
      ),
    ).rejects.toMatchObject({ code: "unknown_rule" });
    await expect(
      suppress(
        t.database.db,
        {
          type: "user",
          id: "u1",
          tag: "x",
          until: new Date("2000-01-01"),
          actor: "a",
        },
        noTagHooks,
      ),
    ).rejects.toMatchObject({ code: "invalid_input" });
  });
});
