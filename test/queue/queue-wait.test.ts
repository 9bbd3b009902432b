import { beforeAll, describe, expect, it } from "vitest";
import { createContext } from "../../src/cli/context.ts";
import { EXIT_TIMED_OUT } from "../../src/cli/enqueue.ts";
import { main } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config.ts";
import { runCli } from "../helpers/cli.ts";
import { useTestDatabase } from "../helpers/db.ts";
import { queueUnavailable, useQueueTest, waitFor } from "../helpers/queue.ts";
import { addAccount, addUser, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const noWorker = /no worker is connected to queue (\w+)/g;
const noWorkerNotice = /no worker is connected to queue/;

describe.skipIf(queueUnavailable())("waiting for queued work", () => {
  const t = useTestDatabase();
  const q = useQueueTest();
  let dir: string;

  beforeAll(async () => {
    dir = rulesDir([powerUsersRule()]);
    await addAccount(t.database, { id: "acc-1" });
    await addUser(t.database, { id: "u1", accountId: "acc-1" });
  });

  const env = () => ({ ...q.env(t.url!), SIGNALTAG_RULES_DIR: dir });

  async function jobCount(): Promise<number> {
    const queues = await q.queues();
    try {
      let total = 0;
      for (const queue of [queues.rules, queues.entities, queues.partitions]) {
        const counts = await queue.getJobCounts();
        total += Object.values(counts).reduce((a, b) => a + b, 0);
      }
      return total;
    } finally {
      await queues.close();
    }
  }

  it("says once that no worker is connected and exits with its own code at --timeout on enqueue entity", async () => {
    const r = await runCli(
      t.database,
      ["enqueue", "entity", "user", "u1", "--wait", "--timeout", "0.5"],
      env(),
    );
    expect(r.code, r.stderr).toBe(EXIT_TIMED_OUT);
    expect([...r.stderr.matchAll(noWorker)].map((m) => m[1])).toEqual(["entities"]);
    expect(r.stderr).toMatch(/signaltag worker/);
    expect(r.stderr).toMatch(/did not finish within 0\.5 s .*it stays queued/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // The job is left for a worker to run.
    expect(await jobCount()).toBe(1);
  });

  it("says no worker is connected and exits at --timeout on enqueue run", async () => {
    const r = await runCli(t.database, ["enqueue", "run", "--wait", "--timeout", "1"], env());
    expect(r.code, r.stderr).toBe(EXIT_TIMED_OUT);
    expect([...r.stderr.matchAll(noWorker)].map((m) => m[1])).toEqual(["rules"]);
    expect(r.stderr).toMatch(/did not finish within 1 s/);
  });

  it("says when a worker connects, and then reports the finished job", async () => {
    let stderr = "";
    let stdout = "";
    const ctx = createContext({
      config: loadConfig(env()),
      database: t.database,
      stdout: { write: (s: string) => (stdout += s), isTTY: false },
      stderr: { write: (s: string) => (stderr += s), isTTY: false },
    });
    const command = main(["enqueue", "entity", "user", "u1", "--wait", "--json"], ctx);
    await waitFor("the no-worker notice", () => noWorkerNotice.test(stderr));
    const worker = await q.spawnWorker(t.url!, { SIGNALTAG_RULES_DIR: dir });
    try {
      const code = await command;
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/a worker connected to queue entities/);
      expect([...stderr.matchAll(noWorker)]).toHaveLength(1);
      expect(JSON.parse(stdout.trim().split("\n")[0]!)).toMatchObject({ rule: "power-users" });
    } finally {
      await worker.stop();
    }
  });

  it("refuses an unknown id as tag add does, without queueing anything", async () => {
    const r = await runCli(t.database, ["enqueue", "entity", "user", "NO-SUCH-ID", "--wait"], env());
    const tagAdd = await runCli(t.database, ["tag", "add", "user", "NO-SUCH-ID", "vip"], env());
    expect(r.stderr).toBe('signaltag: no user with id "NO-SUCH-ID"\n');
    expect(r.stderr).toBe(tagAdd.stderr);
    expect(r.code).toBe(tagAdd.code);
    expect(r.code).not.toBe(0);
    expect(await jobCount()).toBe(0);
  });

  it("refuses a --timeout that is not a positive number, or given without --wait", async () => {
    const bad = await runCli(t.database, ["enqueue", "run", "--wait", "--timeout", "soon"], env());
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--timeout must be a positive number of seconds, not "soon"/);
    const alone = await runCli(t.database, ["enqueue", "run", "--timeout", "5"], env());
    expect(alone.code).not.toBe(0);
    expect(alone.stderr).toMatch(/--timeout applies only with --wait/);
    expect(await jobCount()).toBe(0);
  });
});
