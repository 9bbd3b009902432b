import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { runRule } from "../../src/runs/reconcile.ts";
import { reconcileEntitiesAtOnce } from "../../src/runs/reconcile-entities.ts";
import type { RunResult } from "../../src/runs/run-result.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { loadWorkspace, ruleArb, ruleSet, seedRuleState, workspaceArb } from "../helpers/equivalence.ts";

const cases = Number(process.env.SIGNALTAG_PROPERTY_CASES ?? (testBackend() === "postgres" ? 60 : 25));

/** Everything a re-evaluation leaves behind, without ids and clock times. */
async function outcome(database: Database) {
  const db = database.db;
  return {
    claims: await rows(
      db,
      sql`select c.source, t.name, c.entity_type, c.entity_id from claims c join tags t on t.id = c.tag_id
          order by 1, 2, 3, 4`,
    ),
    events: await rows(
      db,
      sql`select e.entity_type, e.entity_id, t.name, e.action, e.source, e.membership_changed, e.rule_id,
                 e.rule_version, r.rule_id as run_rule, e.as_of, e.explanation
          from tag_events e join tags t on t.id = e.tag_id left join rule_runs r on r.id = e.run_id
          order by e.id`,
    ),
    runs: await rows(
      db,
      sql`select rule_id, rule_version, trigger, as_of, status, forced, evaluated, matched, added, removed, error,
                 details
          from rule_runs order by id`,
    ),
  };
}

const summary = (results: RunResult[]) => results.map(({ durationMs: _d, runId: _r, ...r }) => r);

describe.skipIf(backendUnavailable())("re-evaluating entities against all rules at once", () => {
  const t = useTestDatabase();

  it("leaves the same claims, tag events and rule runs as running the rules one by one", async () => {
    await fc.assert(
      fc.asyncProperty(
        workspaceArb,
        ruleArb,
        ruleArb,
        fc.constantFrom<"user" | "account">("user", "account"),
        fc.integer({ min: 0, max: 20 }),
        async (w, a, b, type, skip) => {
          const opts = {
            asOf: new Date(w.asOf),
            timezone: w.timezone,
            trigger: "event" as const,
            removalGuard: 0.5,
          };
          const rules = ruleSet(a, b, type);

          await loadWorkspace(t.database, w);
          const all = await seedRuleState(t.database, w, type);
          // Some entities, an id that names none, and the order and duplicates a payload may have.
          const ids = [...all.filter((_, i) => (i + skip) % 3 !== 0).reverse(), "nobody", all[0] ?? "nobody"];
          const oneByOne: RunResult[] = [];
          for (const rule of rules)
            oneByOne.push(await runRule(t.database.db, rule, { ...opts, entityIds: ids }));
          const expected = await outcome(t.database);

          await loadWorkspace(t.database, w);
          await seedRuleState(t.database, w, type);
          const atOnce = await reconcileEntitiesAtOnce(t.database.db, rules, type, ids, opts);
          const actual = await outcome(t.database);

          expect(summary(atOnce)).toEqual(summary(oneByOne));
          expect(actual).toEqual(expected);
          for (const r of atOnce) expect(r.runId).toBeGreaterThan(0);
        },
      ),
      { numRuns: cases },
    );
  });
});
