import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, claimsOf, rulesDir } from "../helpers/workspace.ts";

const hostile = "x'); drop table users;--";

describe.skipIf(backendUnavailable())("compiled rules with hostile strings", () => {
  const t = useTestDatabase();

  it("bind values, tag names and attribute paths as parameters, changing nothing but the match", async () => {
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, {
      id: "u1",
      accountId: "acc-1",
      attributes: { [hostile]: hostile, plan: "pro" },
    });
    await addUser(t.database, { id: "u2", accountId: "acc-1", attributes: { plan: hostile } });
    const dir = rulesDir([
      {
        id: "hostile",
        name: "Hostile",
        tag: `${hostile} 🙂`,
        target: "user",
        conditions: {
          any: [
            {
              fact: "attributes",
              path: `$['${hostile.replace(/'/g, "\\'")}']`,
              operator: "equal",
              value: hostile,
            },
            { fact: "attributes", path: "$.plan", operator: "in", value: [hostile, "' or 1=1 --"] },
            { fact: "tags", operator: "contains", value: hostile },
          ],
        },
      },
    ]);
    const before = await rows<{ accounts: number; users: number }>(
      t.database.db,
      sql`select (select count(*) from accounts)::int as accounts, (select count(*) from users)::int as users`,
    );
    const result = await runCli(t.database, ["run", "--json"], { SIGNALTAG_RULES_DIR: dir });
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ status: "applied", matched: 2, added: 2 });
    expect((await claimsOf(t.database, `${hostile} 🙂`)).map((c) => c.entity_id)).toEqual(["u1", "u2"]);
    const after = await rows<{ accounts: number; users: number }>(
      t.database.db,
      sql`select (select count(*) from accounts)::int as accounts, (select count(*) from users)::int as users`,
    );
    expect(after).toEqual(before);
    const [tag] = await rows<{ name: string }>(t.database.db, sql`select name from tags`);
    expect(tag?.name).toBe(`${hostile} 🙂`);
  });
});
