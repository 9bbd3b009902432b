import type { DbOrTx } from "../db/client.ts";
import { InputError } from "../errors/index.ts";
import { pruneChanges } from "../tags/incremental.ts";
import { type RunOptions, type RunResult, runRule } from "../tags/reconcile.ts";
import { reconcileEntitiesAtOnce } from "../tags/reconcile-entities.ts";
import { formatProblems, loadRulesDir, orderByDependencies } from "./load.ts";
import { suggest } from "./suggest.ts";
import { syncRules } from "./sync.ts";
import type { LoadedRule } from "./types.ts";

/**
 * Loads the rules directory and refuses to go on while it does not validate:
 * nothing runs on a half-understood rule set.
 */
export async function loadValidRules(dir: string): Promise<LoadedRule[]> {
  const { rules, problems } = await loadRulesDir(dir);
  if (problems.length > 0) {
    throw new InputError(
      `the rules in ${dir} do not validate (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was run:\n${formatProblems(problems)}`,
      { code: "rules_invalid", details: problems },
    );
  }
  return rules;
}

/** The rules a run covers: the named ones, or every enabled rule, producers of tags first. */
export function selectRules(all: LoadedRule[], ids: string[]): LoadedRule[] {
  if (ids.length === 0) return orderByDependencies(all.filter((r) => r.definition.enabled));
  const known = new Map(all.map((r) => [r.definition.id, r]));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    const hints = unknown.map((id) => {
      const near = suggest(id, [...known.keys()]);
      return near ? `${id} (did you mean ${near}?)` : id;
    });
    throw new InputError(
      `unknown rule ${hints.join(", ")}; known rules: ${[...known.keys()].sort().join(", ")}`,
    );
  }
  const wanted = new Set(ids);
  return orderByDependencies(all.filter((r) => wanted.has(r.definition.id)));
}

/**
 * Runs rules one after another in dependency order, each in its own
 * transaction, so a rule testing `tags` sees what the rules before it did.
 */
export async function runRules(
  db: DbOrTx,
  rules: LoadedRule[],
  selected: LoadedRule[],
  opts: RunOptions & {
    onRuleStart?: (rule: LoadedRule) => void;
    /** Runs one rule instead of runRule (a queue job fans large runs out into partitions). */
    runOne?: (rule: LoadedRule) => Promise<RunResult>;
  },
): Promise<RunResult[]> {
  if (!opts.dryRun) await syncRules(db, rules, { complete: true });
  const results: RunResult[] = [];
  for (const rule of selected) {
    opts.onRuleStart?.(rule);
    results.push(await (opts.runOne ? opts.runOne(rule) : runRule(db, rule, opts)));
  }
  // The change log behind incremental runs keeps only what a rule's next run can still need.
  if (!opts.dryRun) await pruneChanges(db);
  return results;
}

/**
 * Re-evaluates a few entities of one type against every enabled rule of that
 * type, with the same semantics, locking and history as a full run: all rules
 * in one transaction when that succeeds, otherwise one transaction per rule.
 */
export async function reconcileEntities(
  db: DbOrTx,
  rules: LoadedRule[],
  type: "user" | "account",
  ids: string[],
  opts: Omit<RunOptions, "entityIds">,
): Promise<RunResult[]> {
  const selected = orderByDependencies(
    rules.filter((r) => r.definition.enabled && r.definition.target === type),
  );
  if (!opts.dryRun && opts.runKey === undefined && selected.length > 0) {
    try {
      return await reconcileEntitiesAtOnce(db, selected, type, ids, opts);
    } catch (err) {
      // Rule by rule, a failing rule is recorded as failed and the others still apply.
      (opts.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(
        `re-evaluating ${type}s rule by rule after: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const results: RunResult[] = [];
  for (const rule of selected) results.push(await runRule(db, rule, { ...opts, entityIds: ids }));
  return results;
}
