import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { orderByDependencies } from "../../src/rules/load.ts";
import type { LoadedRule, RuleDefinition } from "../../src/rules/types.ts";
import { type RunResult, runRule } from "../../src/tags/reconcile.ts";
import { reconcileEntitiesAtOnce } from "../../src/tags/reconcile-entities.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { loadWorkspace, ruleArb, type Workspace, workspaceArb } from "../helpers/equivalence.ts";

const cases = Number(process.env.SIGNALTAG_PROPERTY_CASES ?? (testBackend() === "postgres" ? 60 : 25));

/**
 * Two generated rules and one that tests the first one's tag, so the order
 * between them matters; "follows" sorts before "gen-a" by id, so only the
 * dependency order runs it after.
 */
function ruleSet(a: RuleDefinition, b: RuleDefinition, type: "user" | "account"): LoadedRule[] {
  const defs: RuleDefinition[] = [
    { ...a, id: "gen-a", name: "A", tag: "Gen A", target: type },
    { ...b, id: "gen-b", name: "B", tag: "generated", target: type },
    {
      id: "follows",
      name: "Follows A",
      tag: "VIP",
      target: type,
      enabled: true,
      conditions: { all: [{ fact: "tags", operator: "contains", value: "gen a" }] },
    } as RuleDefinition,
  ];
  // A generated rule only validates for its own target: keep the ones generated for this type.
  const kept = defs.filter((_d, i) => i === 2 || (i === 0 ? a : b).target === type);
  return orderByDependencies(
    kept.map((definition) => ({ definition, version: `v-${definition.id}`, file: "" })),
  );
}

/** The claims and suppressions the rules start with, on entities picked by the workspace's indexes. */
async function seedRuleState(database: Database, w: Workspace, type: "user" | "account"): Promise<string[]> {
  const db = database.db;
  await db.execute(sql`truncate rule_runs restart identity`);
  await db.execute(sql`insert into tags (name) values ('Gen A') on conflict do nothing`);
  const ids = type === "user" ? w.users.map((u) => u.id) : w.accounts.map((a) => a.id);
  if (ids.length === 0) return ids;
  const pick = (i: number) => ids[i % ids.length]!;
  const sources = ["rule:gen-a", "rule:gen-b", "rule:follows"];
  const tags = ["Gen A", "generated", "VIP"];
  for (const [n, i] of w.ruleClaims.entries()) {
    const k = (i + n) % 3;
    await db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
      select ${sources[k]}, id, ${type}, ${pick(i)} from tags where name = ${tags[k]} on conflict do nothing`);
  }
  for (const [n, i] of w.suppressed.entries()) {
    await db.execute(sql`insert into suppressions (tag_id, entity_type, entity_id, rule_id)
      select id, ${type}, ${pick(i)}, ${n % 2 === 0 ? "gen-b" : null} from tags where name = 'generated'`);
  }
  return ids;
}

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
