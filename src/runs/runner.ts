import type { DbOrTx } from "../db/client.ts";
import { InputError } from "../errors/index.ts";
import { formatProblems, loadRulesDir, mustWaitFor, orderByDependencies } from "../rules/load.ts";
import { suggest } from "../rules/suggest.ts";
import { syncRules } from "../rules/sync.ts";
import type { LoadedRule } from "../rules/types.ts";
import { pruneChanges } from "./incremental.ts";
import { runRule } from "./reconcile.ts";
import { reconcileEntitiesAtOnce } from "./reconcile-entities.ts";
import { logLine, type RunOptions } from "./run-options.ts";
import type { RunResult } from "./run-result.ts";

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
 * Runs rules in dependency order, each in its own transaction, so a rule
 * testing `tags` sees what the rules before it did. With `concurrency` above
 * one (Postgres: each rule's transaction on its own connection), rules that do
 * not wait for each other (see mustWaitFor) run at once, up to that many;
 * the results come back in the order of `selected`.
 */
export async function runRules(
  db: DbOrTx,
  rules: LoadedRule[],
  selected: LoadedRule[],
  opts: RunOptions & {
    onRuleStart?: (rule: LoadedRule) => void;
    /** Runs one rule instead of runRule (a queue job fans large runs out into partitions). */
    runOne?: (rule: LoadedRule) => Promise<RunResult>;
    /** How many rules may run at once (default 1: one after another). */
    concurrency?: number;
  },
): Promise<RunResult[]> {
  if (!opts.dryRun) await syncRules(db, rules, { complete: true });
  const one = (rule: LoadedRule) => {
    opts.onRuleStart?.(rule);
    return opts.runOne ? opts.runOne(rule) : runRule(db, rule, opts);
  };
  const results = await runAtOnce(selected, Math.max(1, opts.concurrency ?? 1), one);
  // The change log behind incremental runs keeps only what a rule's next run can still need.
  if (!opts.dryRun) await pruneChanges(db);
  return results;
}

/** Rules one Postgres run evaluates at once by default (SIGNALTAG_RUN_CONCURRENCY); the embedded database runs one. */
export function runConcurrency(database: { kind: string }, configured: number): number {
  return database.kind === "postgres" ? configured : 1;
}

async function runAtOnce(
  ordered: LoadedRule[],
  concurrency: number,
  one: (rule: LoadedRule) => Promise<RunResult>,
): Promise<RunResult[]> {
  const results: RunResult[] = new Array(ordered.length);
  if (concurrency === 1) {
    for (const [i, rule] of ordered.entries()) results[i] = await one(rule);
    return results;
  }
  const waits = mustWaitFor(ordered);
  const done = new Set<number>();
  const started = new Set<number>();
  // A rule that throws (rather than returning a failed result) stops the run: nothing new starts, and
  // the error is raised once the rules already running have finished.
  await new Promise<void>((resolve, reject) => {
    let running = 0;
    let error: { err: unknown } | undefined;
    const next = () => {
      if (error) {
        if (running === 0) reject(error.err);
        return;
      }
      if (done.size === ordered.length) return resolve();
      for (let i = 0; i < ordered.length && running < concurrency; i++) {
        if (started.has(i) || !waits[i]!.every((j) => done.has(j))) continue;
        started.add(i);
        running++;
        one(ordered[i]!)
          .then(
            (r) => {
              results[i] = r;
              done.add(i);
            },
            (err) => {
              error ??= { err };
            },
          )
          .finally(() => {
            running--;
            next();
          });
      }
    };
    next();
  });
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
      logLine(
        opts,
        `re-evaluating ${type}s rule by rule after: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const results: RunResult[] = [];
  for (const rule of selected) results.push(await runRule(db, rule, { ...opts, entityIds: ids }));
  return results;
}
