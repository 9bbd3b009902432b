import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import {
  addAccount,
  addActivity,
  addUser,
  claimsOf,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const now = new Date();
const today = now.toISOString().slice(0, 10);

function eventsFile(lines: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-events-"));
  const file = path.join(dir, "events.csv");
  fs.writeFileSync(file, ["user_id,account_id,activity,module,occurred_at", ...lines].join("\n") + "\n");
  return file;
}

describe.skipIf(queueUnavailable())("event-driven re-evaluation", () => {
  const t = useTestDatabase();
  const q = useQueueTest();

  it("tags a user as a power user through the job an import queues, with no manual run", async () => {
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "almost", accountId: "acc-1" });
    await addUser(t.database, { id: "quiet", accountId: "acc-1" });
    // Active on 19 of the last 30 days, not today: one more day crosses the threshold.
    await addActivity(t.database, { userId: "almost", accountId: "acc-1", days: lastDays(today, 19, 1) });
    const dir = rulesDir([powerUsersRule()]);
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir, SIGNALTAG_DEBOUNCE_MS: "200" };
    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir });

    const imported = await runCli(
      t.database,
      [
        "import",
        "events",
        eventsFile([`almost,acc-1,login,,${now.toISOString()}`, `quiet,acc-1,login,,${now.toISOString()}`]),
      ],
      env,
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("queued re-evaluation of 2 users and 1 account");

    const claims = await waitFor("the power users tag", async () => {
      const found = await claimsOf(t.database, "power users");
      return found.length > 0 && found;
    });
    expect(claims).toEqual([{ entity_id: "almost", source: "rule:power-users" }]);
    const runs = await rows<{ trigger: string; scope: string | null }>(
      t.database.db,
      sql`select trigger, details->>'scope' as scope from rule_runs`,
    );
    expect(runs).toEqual([{ trigger: "event", scope: "entities" }]);
    expect((await worker.stop()).code).toBe(0);
  });

  it("folds repeated imports for the same user into one debounced re-evaluation", async () => {
    await addUser(t.database, { id: "repeat", accountId: "acc-1" });
    const dir = rulesDir([powerUsersRule()]);
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir, SIGNALTAG_DEBOUNCE_MS: "60000" };
    for (let i = 0; i < 3; i++) {
      const imported = await runCli(
        t.database,
        ["import", "events", eventsFile([`repeat,acc-1,login,,${now.toISOString()}`])],
        env,
      );
      expect(imported.code, imported.stderr).toBe(0);
    }
    const queues = await q.queues();
    const delayed = await queues.entities.getDelayed();
    const users = delayed.filter((j) => j.data.type === "user");
    expect(users.map((j) => j.data.ids)).toEqual([["repeat"]]);
    await queues.close();
  });

  it("imports without queueing anything when REDIS_URL is not set", async () => {
    const imported = await runCli(
      t.database,
      ["import", "events", eventsFile([`quiet,acc-1,login,,${now.toISOString()}`])],
      { DATABASE_URL: t.url!, SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) },
    );
    expect(imported.code).toBe(0);
    expect(imported.stderr).not.toContain("queued");
  });
});
