import { beforeEach, describe, expect, it } from "vitest";
import type { LoadedRule } from "../../src/rules/types.ts";
import { runRule } from "../../src/runs/reconcile.ts";
import type { RunResult } from "../../src/runs/run-result.ts";
import { loadValidRules, runConcurrency, runRules, selectRules } from "../../src/runs/runner.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  addUser,
  claimsOf,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const asOf = new Date("2026-03-31T12:00:00Z");
const today = "2026-03-31";

const rule = (id: string, tag: string, target: "user" | "account", all: unknown[]) => ({
  id,
  name: id,
  tag,
  target,
  enabled: true,
  conditions: { all },
});

/** Rules of a run, the last two waiting on power-users (one directly, one through the other). */
const ruleFiles = [
  powerUsersRule(),
  rule("new-user", "new user", "user", [{ fact: "daysSinceCreated", operator: "lessThan", value: 30 }]),
  rule("new-account", "new-account", "account", [
    { fact: "daysSinceProvisioned", operator: "lessThan", value: 30 },
  ]),
  rule("a-vip", "vip", "user", [{ fact: "tags", operator: "contains", value: "Power Users" }]),
  rule("b-vip-new", "vip new", "user", [
    { fact: "tags", operator: "contains", value: "vip" },
    { fact: "daysSinceCreated", operator: "lessThan", value: 30 },
  ]),
];

describe.skipIf(backendUnavailable())("rules of one run at once", () => {
  const t = useTestDatabase();
  const opts = { asOf, timezone: "UTC", trigger: "manual" as const, removalGuard: 0.5 };
  let rules: LoadedRule[];

  beforeEach(async () => {
    await t.reset();
    rules = await loadValidRules(rulesDir(ruleFiles));
    await addAccount(t.database, { id: "acc-old" });
    await addAccount(t.database, { id: "acc-new", provisionedAt: "2026-03-20T00:00:00Z" });
    for (let i = 0; i < 6; i++) {
      const id = `u${i}`;
      // u0-u2 are power users; u0 and u3 are new.
      await addUser(t.database, {
        id,
        accountId: i % 2 ? "acc-new" : "acc-old",
        createdAt: i === 0 || i === 3 ? "2026-03-10T00:00:00Z" : "2025-06-01T00:00:00Z",
      });
      await addActivity(t.database, {
        userId: id,
        accountId: i % 2 ? "acc-new" : "acc-old",
        days: lastDays(today, i < 3 ? 25 : 3),
      });
    }
  });

  /** Runs the rules through runOne, noting when each starts and finishes and the most running at once. */
  async function observedRun(concurrency: number, fail?: string) {
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const runOne = async (r: LoadedRule): Promise<RunResult> => {
      running++;
      most = Math.max(most, running);
      log.push(`start ${r.definition.id}`);
      try {
        if (r.definition.id === fail) throw new Error(`${fail} broke`);
        return await runRule(t.database.db, r, opts);
      } finally {
        running--;
        log.push(`end ${r.definition.id}`);
      }
    };
    const observed = () => ({ log, most, runningAfter: running });
    try {
      const results = await runRules(t.database.db, rules, selectRules(rules, []), {
        ...opts,
        concurrency,
        runOne,
      });
      return { results, ...observed() };
    } catch (err) {
      throw Object.assign(err as Error, { observed: { results: [], ...observed() } });
    }
  }

  it("gives every rule the result it has one after another, in dependency order", async () => {
    const concurrency = runConcurrency(t.database, 3);
    const { results, log, most } = await observedRun(concurrency);
    expect(results.map((r) => [r.rule, r.status, r.matched, r.added])).toEqual([
      ["new-account", "applied", 1, 1],
      ["new-user", "applied", 2, 2],
      ["power-users", "applied", 3, 3],
      ["a-vip", "applied", 3, 3],
      ["b-vip-new", "applied", 1, 1],
    ]);
    expect((await claimsOf(t.database, "vip new")).map((c) => c.entity_id)).toEqual(["u0"]);
    // A rule starts only after the rules whose tags it tests have finished.
    const at = (line: string) => log.indexOf(line);
    expect(at("start a-vip")).toBeGreaterThan(at("end power-users"));
    expect(at("start b-vip-new")).toBeGreaterThan(at("end a-vip"));
    // On Postgres independent rules overlap; the embedded database runs one at a time.
    if (testBackend() === "postgres") expect(most).toBe(3);
    else expect(most).toBe(1);
  });

  it("raises a rule's error once the rules already running have finished, and starts no more", async () => {
    const { log, runningAfter } = await observedRun(runConcurrency(t.database, 3), "new-user").catch(
      (err: Error & { observed?: Awaited<ReturnType<typeof observedRun>> }) => {
        expect(err.message).toBe("new-user broke");
        return err.observed!;
      },
    );
    expect(runningAfter).toBe(0);
    expect(log.filter((l) => l.startsWith("end"))).toHaveLength(
      log.filter((l) => l.startsWith("start")).length,
    );
    // The rules waiting on power-users never started.
    expect(log.some((l) => l.includes("vip"))).toBe(false);
  });
});
