import { readFileSync } from "node:fs";
import type { SQL } from "drizzle-orm";
import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { calendarDate } from "../facts/time.ts";
import { collectFactRequests } from "../rules/fact-requests.ts";
import type { LoadedRule } from "../rules/types.ts";
import {
  changedEntitiesQuery,
  deleteUnneeded,
  keepsAny,
  latestBaselineRun,
  lockChangeLogAtOnce,
  pruneHorizon,
  sinceBaseline,
  truncateUnlessNeeded,
  vacuumChangeLog,
} from "./sql/change-log.ts";

/**
 * Incremental runs: a rule's claims, once reconciled for every entity, stay
 * right for each entity whose inputs have not changed, as long as the rule's
 * version and the calendar day it is evaluated on stay the same. So a run can
 * re-evaluate only the entities that changed since the rule's last full or
 * incremental run (its baseline), read from the change log that triggers keep
 * (entity_changes), plus those whose facts move with the as-of instant within
 * the day (created, or a suppression ending, between the two instants).
 *
 * A run records the snapshot it evaluated under (taken before it read
 * anything) and its own transaction id; the next run takes every change made
 * by a transaction that snapshot did not see, so a transaction that was still
 * running then is never missed, however late it commits. Reading too much only
 * costs time: a change made just after the snapshot but seen by the evaluation
 * is simply evaluated again next time.
 */

/** What a run records so the next one can start from it. */
export interface RunSnapshot {
  snapshot: string;
  xid: string;
}

/**
 * What evaluated a baseline: this signaltag's version and the revision of what
 * its facts and operators mean (raise it with any change to either). A run by
 * another evaluates every entity again, so an upgrade never leaves claims
 * decided by the old meaning in place until the next day.
 */
const EVALUATED_BY = `${
  (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
    .version
}/facts-1`;

/** The `baseline` member of a run's details: the snapshot it evaluated under, its time zone and evaluator. */
export function baselineDetails(snapshot: RunSnapshot, timezone: string): Record<string, unknown> {
  return { baseline: { ...snapshot, timezone, evaluatedBy: EVALUATED_BY } };
}

export interface Baseline extends RunSnapshot {
  runId: number;
  asOf: Date;
  /**
   * The rule's claims when that run committed (what it matched). With no
   * change since, none of the rule's claims changed either: the change log
   * records every claim of its tag that any transaction added or removed.
   */
  claims: number;
}

/** A baseline older than this is not used, and the change log keeps nothing older than the baselines within it. */
const BASELINE_HOURS = 36;

/**
 * The run this one can start from, or why it must evaluate every entity: no
 * earlier run recorded a snapshot, the rule changed, the calendar day or time
 * zone differs, the as-of instant went back, a run on another day or version
 * came in between, or a watched table was truncated since.
 */
export async function findBaseline(
  tx: DbOrTx,
  loaded: LoadedRule,
  asOf: Date,
  timezone: string,
): Promise<{ ok: true; baseline: Baseline } | { ok: false; reason: string }> {
  const def = loaded.definition;
  const today = calendarDate(asOf, timezone);
  const b = await latestBaselineRun(tx, def.id, BASELINE_HOURS);
  if (!b) return { ok: false, reason: "no earlier run to start from" };
  const asOfBefore = new Date(b.as_of);
  if (b.rule_version !== loaded.version) return { ok: false, reason: "the rule changed since its last run" };
  if (b.evaluated_by !== EVALUATED_BY)
    return { ok: false, reason: "signaltag was upgraded since the rule's last run" };
  if (!b.recent) return { ok: false, reason: `its last full run is more than ${BASELINE_HOURS} hours old` };
  if (b.timezone !== timezone || calendarDate(asOfBefore, timezone) !== today)
    return { ok: false, reason: "its last run was for another calendar day" };
  if (asOfBefore.getTime() > asOf.getTime())
    return { ok: false, reason: "its last run was as of a later instant" };
  const between = await sinceBaseline(
    tx,
    { ruleId: def.id, type: def.target, version: loaded.version, asOf, timezone, today },
    b,
  );
  if (between?.other)
    return { ok: false, reason: "a run for another day or version came after its last run" };
  if (between?.reset) return { ok: false, reason: "a table it reads was truncated since its last run" };
  return {
    ok: true,
    baseline: { runId: b.id, asOf: asOfBefore, snapshot: b.snapshot, xid: b.xid, claims: b.matched },
  };
}

/** Whether a run of the rule now would be incremental (a queue job then needs no partitions). */
export async function canRunIncrementally(
  db: DbOrTx,
  loaded: LoadedRule,
  asOf: Date,
  timezone: string,
): Promise<boolean> {
  return (await findBaseline(db, loaded, asOf, timezone)).ok;
}

/**
 * The ids of the entities the rule must re-evaluate since the baseline: one
 * column `id`. Which changes count follows the facts the rule reads: its
 * entities' own rows always, their rollups for activity facts, the users of an
 * account for userCount and activeUsers, a user's account for `account`, every
 * tag for `tags`, and the claims and suppressions of its own tag.
 */
export function changedEntities(
  loaded: LoadedRule,
  baseline: Baseline,
  asOf: Date,
  tagId: number | null,
): SQL {
  const def = loaded.definition;
  const facts = new Set(collectFactRequests(def).map((r) => r.fact));
  const activity = ["activeDays", "daysSinceLastActive", "eventCount", "modulesUsed"].some((f) =>
    facts.has(f),
  );
  const members = def.target === "account" && (facts.has("userCount") || facts.has("activeUsers"));
  return changedEntitiesQuery(
    {
      type: def.target,
      kinds: ["row", ...(activity ? ["activity"] : []), ...(members ? ["member"] : [])],
      tagId,
      anyClaim: facts.has("tags"),
      // With exit conditions the rule's own claim is one of its inputs: what its last run changed, it decides again.
      ownClaims: Boolean(def.exitConditions),
      accountRow: def.target === "user" && facts.has("account"),
      newMembers: members,
      activeMembers: members && facts.has("activeUsers"),
    },
    baseline,
    asOf,
  );
}

/**
 * Drops change-log rows no baseline can need: those every rule's latest
 * baseline snapshot saw (baselines past BASELINE_HOURS are never used), and
 * every snapshot of partitions waiting to be applied. A transaction that ran
 * long in another database of the server holds back the snapshots' xmin, not
 * what they saw, so a row is judged by what they saw, not by that xmin. Only while no run or
 * partition is under way (one in progress may be about to record an older
 * snapshot): they hold a shared lock that this takes exclusively, and it
 * gives up at once when it cannot. When every row can go (typically the run
 * after one that wrote a first run's hundreds of thousands of claims) the
 * table is truncated, unless some transaction is writing to it right now.
 */
export async function pruneChanges(db: DbOrTx): Promise<number> {
  const pruned = await inTransaction(db, async (tx) => {
    const h = await pruneHorizon(tx, BASELINE_HOURS);
    if (!h?.got) return 0;
    if (!(await keepsAny(tx, h)) && (await lockChangeLogAtOnce(tx))) {
      const truncated = await truncateUnlessNeeded(tx, h);
      if (truncated !== null) return -truncated;
    }
    return deleteUnneeded(tx, h);
  });
  // A large delete leaves dead rows behind; a vacuum returns their space (not possible inside a transaction).
  // A truncate (negative count) leaves nothing.
  if (pruned >= VACUUM_AFTER_PRUNED && !("rollback" in db)) await vacuumChangeLog(db);
  return Math.abs(pruned);
}

const VACUUM_AFTER_PRUNED = 10_000;
