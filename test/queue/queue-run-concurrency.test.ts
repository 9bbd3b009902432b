import { sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import { addAccount, addUser, claimsOf, rulesDir } from "../helpers/workspace.ts";

const asOf = "2026-03-31T12:00:00Z";

const rule = (id: string, tag: string, target: "user" | "account", fact: string) => ({
  id,
  name: id,
  tag,
  target,
  enabled: true,
  conditions: { all: [{ fact, operator: "lessThan", value: 30 }] },
});

describe.skipIf(queueUnavailable())("a queued run of rules that do not test each other's tags", () => {
  const t = useTestDatabase();
  const q = useQueueTest();

  it("runs them at once, as an inline run does: one finishes while the other waits on the database", async () => {
    // a-accounts comes first in the run's order; one rule after another, b-users would wait for it.
    const dir = rulesDir([
      rule("a-accounts", "new-account", "account", "daysSinceProvisioned"),
      rule("b-users", "new user", "user", "daysSinceCreated"),
    ]);
    await addAccount(t.database, { id: "acc-1", provisionedAt: "2026-03-20T00:00:00Z" });
    await addUser(t.database, { id: "u1", accountId: "acc-1", createdAt: "2026-03-25T00:00:00Z" });
    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir, SIGNALTAG_RUN_CONCURRENCY: "2" });

    // Another session holds the accounts table: the account rule cannot read it until that ends.
    const client = postgres(t.url!, { max: 1, onnotice: () => {} });
    const holder = await client.reserve();
    await holder`begin`;
    await holder`lock table accounts in access exclusive mode`;
    const queued = runCli(t.database, ["enqueue", "run", "--as-of", asOf, "--wait", "--json"], {
      ...q.env(t.url!),
      SIGNALTAG_RULES_DIR: dir,
    });
    try {
      await waitFor("b-users to finish while a-accounts waits", async () => {
        const done = await rows<{ rule_id: string }>(
          t.database.db,
          sql`select rule_id from rule_runs where status = 'applied'`,
        );
        return done.length > 0 && done;
      }).then((done) => expect(done).toEqual([{ rule_id: "b-users" }]));
      expect(await claimsOf(t.database, "new-account")).toEqual([]);
    } finally {
      await holder`rollback`;
      holder.release();
      await client.end();
    }

    const result = await queued;
    expect(result.code, result.stderr).toBe(0);
    expect(
      result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).rule),
    ).toEqual(["a-accounts", "b-users"]);
    expect(await claimsOf(t.database, "new-account")).toEqual([
      { entity_id: "acc-1", source: "rule:a-accounts" },
    ]);
    expect(await claimsOf(t.database, "new user")).toEqual([{ entity_id: "u1", source: "rule:b-users" }]);
    expect((await worker.stop()).code).toBe(0);
  });
});
