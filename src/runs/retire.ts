import type { DbOrTx } from "../db/client.ts";
import { ConflictError, NotFoundError } from "../errors/index.ts";
import { suggest } from "../rules/suggest.ts";
import type { LoadedRule } from "../rules/types.ts";
import { recordRun } from "./record-run.ts";
import { guardHolds, runOnce } from "./rule-run.ts";
import type { RunPolicy } from "./run-options.ts";
import { emptyResult, type RunResult } from "./run-result.ts";
import {
  type ClaimGroup,
  claimGroupsOf,
  knownRuleIds,
  type LeftoverClaims,
  latestRuleVersion,
  leftoverRuleClaims,
  removeRuleClaims,
} from "./sql/retire.ts";
import { finishRun } from "./sql/rule-runs.ts";

/** The reason a retirement's tag events carry. */
export const RETIRED_REASON = "rule retired";

export type RetireOptions = Pick<
  RunPolicy,
  "asOf" | "dryRun" | "force" | "removalGuard" | "removalGuardMinClaims"
> & { trigger: "manual" | "api" };

export interface RetireResult extends RunResult {
  /** The claims the rule held, per tag and entity type, with the entities that lose the tag. */
  groups: ClaimGroup[];
}

/**
 * Retires a rule: removes every claim of source `rule:ID` (and only those),
 * each with a tag event saying so, as one run of the rule: under its advisory
 * lock, held by the removal guard unless forced, recorded in rule_runs
 * (`details.retired`). A retirement removes all of the rule's claims, so the
 * guard holds one of a rule with at least its minimum of claims whenever its
 * share is below 1: a dry run shows what goes, `force` applies it.
 *
 * A rule whose file is still enabled is refused: its next run would claim the
 * tag again, so retiring it would only churn history.
 */
export async function retireRule(
  db: DbOrTx,
  ruleId: string,
  file: LoadedRule | undefined,
  opts: RetireOptions,
): Promise<RetireResult> {
  if (file?.definition.enabled) {
    throw new ConflictError(
      `rule ${ruleId} is enabled in ${file.file}: its next run would claim "${file.definition.tag}" again; set "enabled": false there (or delete the file), then retire it`,
      { code: "rule_enabled" },
    );
  }
  const loaded = file ?? (await recordedRule(db, ruleId));
  const started = Date.now();
  const source = `rule:${ruleId}`;
  let groups: ClaimGroup[] = [];
  const result = await runOnce(db, loaded, opts, emptyResult(loaded), started, async (tx) => {
    groups = await claimGroupsOf(tx, source);
    const total = groups.reduce((n, g) => n + g.claims, 0);
    const result: RunResult = { ...emptyResult(loaded), claimsBefore: total, removed: total };
    if (opts.dryRun) return { ...result, status: "dry-run" };
    // Nothing to remove is nothing to record.
    if (total === 0) return result;
    const held = guardHolds(loaded, opts, result);
    if (held) return { ...result, status: "held", error: held };
    result.runId = await recordRun(tx, loaded, opts, result, { retired: true });
    const explanation = {
      rule: ruleId,
      version: loaded.version,
      asOf: opts.asOf.toISOString(),
      reason: RETIRED_REASON,
    };
    for (const g of groups) {
      await removeRuleClaims(tx, {
        type: g.entity_type,
        tagId: g.tag_id,
        source,
        rule: { id: ruleId, version: loaded.version },
        runId: result.runId,
        asOf: opts.asOf,
        explanation,
      });
    }
    await finishRun(tx, result.runId, Date.now() - started);
    return result;
  });
  return { ...result, groups: result.status === "failed" ? [] : groups };
}

/** A rule without a file, as its latest recorded version says it was. */
async function recordedRule(db: DbOrTx, ruleId: string): Promise<LoadedRule> {
  const recorded = await latestRuleVersion(db, ruleId);
  if (recorded) return { definition: recorded.definition, version: recorded.version, file: "" };
  const near = suggest(ruleId, await knownRuleIds(db));
  throw new NotFoundError(
    `no rule ${JSON.stringify(ruleId)} has a file or ever ran here${near ? ` (did you mean ${near}?)` : ""}`,
  );
}

/** A rule that still holds claims although it is disabled or its file is gone. */
export interface RetireCandidate extends LeftoverClaims {
  why: "disabled" | "no file";
}

/**
 * Rules holding claims that no run will ever update: disabled, or without a
 * file. When some rule files did not load (`filesComplete` false), a rule
 * without a loaded file may only have a broken one, so only disabled rules are
 * named.
 */
export async function rulesToRetire(
  db: DbOrTx,
  files: readonly LoadedRule[],
  opts: { filesComplete: boolean } = { filesComplete: true },
): Promise<RetireCandidate[]> {
  const enabled = files.filter((r) => r.definition.enabled).map((r) => r.definition.id);
  const disabled = new Set(files.filter((r) => !r.definition.enabled).map((r) => r.definition.id));
  const leftovers = await leftoverRuleClaims(db, enabled);
  return leftovers
    .map((l): RetireCandidate => ({ ...l, why: disabled.has(l.rule_id) ? "disabled" : "no file" }))
    .filter((c) => opts.filesComplete || c.why === "disabled");
}

/** The warning line for one such rule, naming the command that removes its claims. */
export function retireWarning(c: RetireCandidate): string {
  const what = c.why === "disabled" ? "is disabled" : "has no rule file";
  const claims = `${c.claims} claim${c.claims === 1 ? "" : "s"}`;
  return `warning: rule ${c.rule_id} ${what} but still holds ${claims} on ${c.tags.map((t) => JSON.stringify(t)).join(", ")}; run \`signaltag rules retire ${c.rule_id}\` to remove them`;
}

/** A retirement as the CLI's --json and the API answer it. */
export function retireSummary(r: RetireResult) {
  return {
    rule: r.rule,
    status: r.status,
    removed: r.removed,
    claimsBefore: r.claimsBefore,
    ...(r.runId === undefined ? {} : { runId: r.runId }),
    ...(r.error ? { error: r.error } : {}),
    tags: r.groups.map((g) => ({
      tag: g.tag,
      entityType: g.entity_type,
      claims: g.claims,
      losing: g.losing,
    })),
  };
}
