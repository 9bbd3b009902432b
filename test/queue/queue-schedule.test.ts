import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
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

const today = new Date().toISOString().slice(0, 10);

describe.skipIf(queueUnavailable())("job schedulers", () => {
  const t = useTestDatabase();
  const q = useQueueTest();

  it("fires a rule on its schedule, and removes the scheduler when the rule file is deleted", async () => {
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "busy", accountId: "acc-1" });
    await addActivity(t.database, { userId: "busy", accountId: "acc-1", days: lastDays(today, 25) });
    const dir = rulesDir([powerUsersRule({ schedule: { cron: "*/1 * * * * *", timezone: "UTC" } })]);
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir };

    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir });
    expect(worker.output()).toContain("1 rule scheduled (power-users added)");
    const claims = await waitFor("the scheduled run's claims", async () => {
      const found = await claimsOf(t.database, "power users");
      return found.length > 0 && found;
    });
    expect(claims).toEqual([{ entity_id: "busy", source: "rule:power-users" }]);
    expect(await worker.stop()).toEqual({ code: 0, signal: null });

    const queues = await q.queues();
    expect((await queues.rules.getJobSchedulers()).map((s) => s.key)).toEqual(["rule-power-users"]);
    fs.rmSync(path.join(dir, "power-users.json"));
    const sync = await runCli(t.database, ["schedule", "sync"], env);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/power-users\s+removed/);
    expect(await queues.rules.getJobSchedulers()).toEqual([]);
    await queues.close();
  });

  it("adds, updates and removes schedulers as rules change, and changes nothing when synced twice", async () => {
    const daily = { cron: "0 6 * * *", timezone: "Europe/Berlin" };
    const dir = rulesDir([
      powerUsersRule({ schedule: daily }),
      powerUsersRule({
        id: "heavy-users",
        tag: "heavy users",
        schedule: { cron: "0 * * * *", timezone: "UTC" },
      }),
      powerUsersRule({ id: "unscheduled", tag: "unscheduled" }),
    ]);
    const env = { ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir };
    const first = await runCli(t.database, ["schedule", "sync"], env);
    expect(first.stdout).toMatch(/heavy-users\s+added\s+0 \* \* \* \*\s+UTC/);
    expect(first.stdout).toMatch(/power-users\s+added\s+0 6 \* \* \*\s+Europe\/Berlin/);
    expect(first.stdout).not.toContain("unscheduled");

    const again = await runCli(t.database, ["schedule", "sync"], env);
    expect(again.stdout.match(/unchanged/g)).toHaveLength(2);

    const queues = await q.queues();
    const before = await queues.rules.getJobSchedulers();
    fs.writeFileSync(
      path.join(dir, "power-users.json"),
      JSON.stringify(powerUsersRule({ schedule: { cron: "30 6 * * *", timezone: "Europe/Berlin" } })),
    );
    fs.writeFileSync(
      path.join(dir, "heavy-users.json"),
      JSON.stringify(
        powerUsersRule({ id: "heavy-users", tag: "heavy users", enabled: false, schedule: daily }),
      ),
    );
    const changed = await runCli(t.database, ["schedule", "sync"], env);
    expect(changed.stdout).toMatch(/heavy-users\s+removed/);
    expect(changed.stdout).toMatch(/power-users\s+updated\s+30 6 \* \* \*/);
    const after = await queues.rules.getJobSchedulers();
    expect(before.map((s) => s.key).sort()).toEqual(["rule-heavy-users", "rule-power-users"]);
    expect(after.map((s) => [s.key, s.pattern, s.tz])).toEqual([
      ["rule-power-users", "30 6 * * *", "Europe/Berlin"],
    ]);
    await queues.close();
  });
});
