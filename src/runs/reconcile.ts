import { type SQL, sql } from "drizzle-orm";
import { ensureTag, findTag } from "../claims/sql/tags.ts";
import { claimChangeWrites } from "../claims/write-changes.ts";
import type { DbOrTx, Tx } from "../db/client.ts";
import { rows } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { computeFacts } from "../facts/compute.ts";
import { createdColumn, entityTable } from "../facts/sql/entities.ts";
import { countEntities, loadEntityBatch } from "../facts/sql/entity-batch.ts";
import { calendarDate } from "../facts/time.ts";
import type { LoadedRule } from "../rules/types.ts";
import { compileRule, entityScope } from "./compile.ts";
import { claimedAfter, decide } from "./decide.ts";
import { type Evaluation, RuleEvaluator } from "./evaluate.ts";
import { expandExplanation, isCompactExplanation } from "./explanation.ts";
import {
  type Baseline,
  baselineDetails,
  changedEntities,
  findBaseline,
  PRUNE_LOCK,
  type RunSnapshot,
  takeSnapshot,
} from "./incremental.ts";

export type RunTrigger = "manual" | "schedule" | "api" | "event";
export type RunStatus = "applied" | "held" | "dry-run" | "failed";

export interface RunOptions {
  asOf: Date;
  timezone: string;
  trigger: RunTrigger;
  dryRun?: boolean;
  force?: boolean;
  /** Global share of a rule's claims one run may remove (0..1); a rule's own `removalGuard` wins. */
  removalGuard: number;
  /** The guard judges a share only once a rule has at least this many claims. */
  removalGuardMinClaims?: number;
  batchSize?: number;
  /** How many sample entities a dry run shows each way. */
  samples?: number;
  /**
   * Evaluate only these entities (event-driven re-evaluation). Claims of
   * other entities are untouched, and the mass-removal guard does not apply.
   */
  entityIds?: string[];
  /**
   * Makes the run idempotent across retries: when a run with this key is
   * already recorded as applied or held, that result is returned and nothing
   * runs again (a queue job re-run after its worker died uses its job's key).
   */
  runKey?: string;
  onProgress?: (done: number, total: number) => void;
  /**
   * How rules are evaluated: "compiled" (the default) runs a rule as one SQL
   * statement when it compiles and falls back to json-rules-engine otherwise;
   * "reference" always uses json-rules-engine per entity.
   */
  evaluation?: "compiled" | "reference";
  /**
   * Whether a run of every entity may re-evaluate only the entities that
   * changed since the rule's last run, when that run allows it (same rule
   * version, same calendar day, not a later instant; src/runs/incremental.ts).
   * Default true; false evaluates every entity.
   */
  incremental?: boolean;
  /** Where a line saying why a rule fell back to the reference path goes (default stderr). */
  log?: (line: string) => void;
}

export interface SampleChange {
  entityId: string;
  explanation: Explanation;
}

export interface RunResult {
  rule: string;
  tag: string;
  target: "user" | "account";
  version: string;
  status: RunStatus;
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  /** Claims the rule held before the run (on the given entities only, for a scoped run). */
  claimsBefore: number;
  runId?: number;
  durationMs: number;
  error?: string;
  /** An incremental run: the run it started from (only what changed since was evaluated). */
  incrementalSince?: number;
  /** How many partition jobs shared the run (partitioned runs only). */
  partitions?: number;
  /** On a failed run: whether running it again may succeed (the database was unreachable...). */
  retriable?: boolean;
  samples?: { added: SampleChange[]; removed: SampleChange[] };
}

/** Why a rule claimed or dropped a tag, as stored with the tag event. */
export interface Explanation {
  rule: string;
  version: string;
  asOf: string;
  matched?: boolean;
  exitMatched?: boolean;
  conditions?: Evaluation["conditions"];
  exitConditions?: Evaluation["exitConditions"];
  reason?: string;
}

export const DEFAULT_GUARD_MIN_CLAIMS = 5;

/** Ends a run's transaction without committing, carrying the run's outcome. Shared with partitioned runs. */
export class Rollback extends Error {
  constructor(readonly result: RunResult) {
    super("rollback");
  }
}

/**
 * Session settings for the transaction of a run that evaluates many entities.
 * JIT compilation costs more than it saves on these statements (0.65 s of a
 * 3.2 s evaluation of 1M users, where the expressions are cheap and the time
 * is in joins), and the default work_mem of 4 MB splits the hash joins of a
 * million entities into batches written to disk; at 128 MB a first run's
 * 451k tag events (with their explanations) were still sorted on disk.
 */
export async function evaluationSettings(tx: Tx): Promise<void> {
  await tx.execute(sql`select set_config('jit', 'off', true), set_config('work_mem', ${RUN_WORK_MEM}, true)`);
}

const RUN_WORK_MEM = "256MB";

export function lockKey(ruleId: string): SQL {
  return sql`hashtextextended(${`signaltag:rule:${ruleId}`}, 0)`;
}

/** A run result with every count at zero, before anything is evaluated. */
export function emptyResult(loaded: LoadedRule): RunResult {
  const def = loaded.definition;
  return {
    rule: def.id,
    tag: def.tag,
    target: def.target,
    version: loaded.version,
    status: "applied",
    evaluated: 0,
    matched: 0,
    added: 0,
    removed: 0,
    claimsBefore: 0,
    durationMs: 0,
  };
}

/**
 * Runs one rule as of an instant and reconciles its claims (DESIGN section 1):
 * level-based, idempotent, atomic (one transaction), serialized per rule by an
 * advisory lock, and guarded against mass removal. Only this rule's own claims
 * are ever added or removed.
 */
export async function runRule(db: DbOrTx, loaded: LoadedRule, opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const def = loaded.definition;
  const base = emptyResult(loaded);
  let result: RunResult;
  let replayed = false;
  try {
    result = await inTransaction(db, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${lockKey(def.id)})`);
      await evaluationSettings(tx);
      const recorded = opts.runKey === undefined ? undefined : await recordedRun(tx, loaded, opts.runKey);
      if (recorded) {
        replayed = true;
        throw new Rollback(recorded);
      }
      const outcome = await reconcile(tx, loaded, opts, base, started);
      if (outcome.status !== "applied") throw new Rollback(outcome);
      return outcome;
    });
  } catch (err) {
    result = err instanceof Rollback ? err.result : failedResult(base, err);
  }
  if (replayed) return result;
  if (result.status === "applied") await analyzeAfter(db, result);
  result.durationMs = Date.now() - started;
  if (result.status === "held" || result.status === "failed") {
    result.runId = await recordRun(db, loaded, opts, result);
  }
  return result;
}

/**
 * Fresh claims statistics after a run that changed many claims. Autovacuum
 * gets there eventually; until then the planner takes a table a first run
 * filled for empty, and the next run's joins against it (removing claims)
 * became nested loops over every claim: a minute instead of milliseconds.
 */
export async function analyzeAfter(db: DbOrTx, r: { added: number; removed: number }): Promise<void> {
  // The change log grew by as many rows: taken for nearly empty, it is read through its txid index, every
  // rule's changes, instead of one rule's by kind (see changedEntities).
  if (r.added + r.removed >= ANALYZE_AFTER_CHANGES) await db.execute(sql`analyze claims, entity_changes`);
}

const ANALYZE_AFTER_CHANGES = 10_000;

/** A run that failed with this error: nothing it did was kept. */
export function failedResult(base: RunResult, err: unknown): RunResult {
  return {
    ...base,
    status: "failed",
    error: err instanceof Error ? err.message : String(err),
    retriable: isRetriableDatabaseError(err),
  };
}

/**
 * Errors worth retrying: the connection went away, the server is shutting
 * down or overloaded, or the transaction lost a deadlock or serialization race.
 */
export function isRetriableDatabaseError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? "");
    if (/^(08|53|57P)/.test(code) || code === "40001" || code === "40P01") return true;
    if (
      ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "CONNECTION_CLOSED", "CONNECTION_ENDED"].includes(
        code,
      )
    )
      return true;
  }
  return false;
}

/** The result of a run already recorded under this key as applied or held, if any. */
export async function recordedRun(
  tx: Tx,
  loaded: LoadedRule,
  runKey: string,
): Promise<RunResult | undefined> {
  const def = loaded.definition;
  const [row] = await rows<{
    id: number;
    rule_version: string;
    status: RunStatus;
    evaluated: number;
    matched: number;
    added: number;
    removed: number;
    duration_ms: number | null;
    error: string | null;
    claims_before: number | null;
  }>(
    tx,
    sql`select id::int as id, rule_version, status, evaluated, matched, added, removed, duration_ms, error,
               (details->>'claimsBefore')::int as claims_before
        from rule_runs
        where rule_id = ${def.id} and details->>'runKey' = ${runKey} and status in ('applied', 'held')
        order by id desc limit 1`,
  );
  if (!row) return undefined;
  return {
    rule: def.id,
    tag: def.tag,
    target: def.target,
    version: row.rule_version,
    status: row.status,
    evaluated: row.evaluated,
    matched: row.matched,
    added: row.added,
    removed: row.removed,
    claimsBefore: row.claims_before ?? 0,
    runId: row.id,
    durationMs: row.duration_ms ?? 0,
    ...(row.error ? { error: row.error } : {}),
  };
}

async function reconcile(
  tx: Tx,
  loaded: LoadedRule,
  opts: RunOptions,
  base: RunResult,
  started: number,
): Promise<RunResult> {
  const def = loaded.definition;
  const result: RunResult = { ...base };

  await createDiffTable(tx);

  const scoped = opts.entityIds !== undefined;
  let scope: Scope = scoped
    ? { ids: [...new Set(opts.entityIds ?? [])].sort() }
    : { after: null, through: null };
  // Whether a run over every entity is one SQL statement (else json-rules-engine per entity).
  const compiled = !scoped && opts.evaluation !== "reference" && compileRule(def).ok;
  // A run over every entity records the snapshot it evaluates under, so the next run can start from it.
  let snapshot: RunSnapshot | undefined;
  if (!scoped) {
    await tx.execute(sql`select pg_advisory_xact_lock_shared(${PRUNE_LOCK})`);
    snapshot = await takeSnapshot(tx);
    if (opts.incremental !== false) {
      const found = await findBaseline(tx, loaded, opts.asOf, opts.timezone);
      if (found.ok) {
        scope = { changedSince: found.baseline };
        result.incrementalSince = found.baseline.runId;
      }
    }
  }

  const baseline = snapshot && baselineDetails(snapshot, opts.timezone);
  // A compiled run over a tag that exists evaluates and applies in one statement, under a run row
  // recorded first: a run the guard holds is rolled back whole, like any run that is not applied.
  const tag = compiled && !opts.dryRun ? await findTag(tx, def.tag) : undefined;
  const direct = tag !== undefined;
  if (direct) {
    result.runId = await recordRun(tx, loaded, opts, { ...result, status: "applied" }, baseline);
  }
  const evaluation = await evaluateScope(
    tx,
    loaded,
    opts,
    scope,
    direct ? { ...TEMP_DIFF, apply: { runId: result.runId!, tagId: tag.id } } : TEMP_DIFF,
  );
  result.claimsBefore = evaluation.claimsBefore ?? (await countClaims(tx, loaded, scope));
  result.evaluated = evaluation.evaluated;
  result.matched = evaluation.matched;
  result.added = evaluation.added;
  result.removed = evaluation.removed;

  if (opts.dryRun) return { ...result, status: "dry-run", samples: evaluation.samples };

  const guard = def.removalGuard ?? opts.removalGuard;
  const minClaims = opts.removalGuardMinClaims ?? DEFAULT_GUARD_MIN_CLAIMS;
  if (
    !opts.force &&
    !scoped &&
    result.claimsBefore >= minClaims &&
    result.removed > 0 &&
    result.removed > guard * result.claimsBefore
  ) {
    return {
      ...result,
      status: "held",
      error: `would remove ${result.removed} of ${result.claimsBefore} claims (more than ${Math.round(guard * 100)} %); run with --force to apply`,
    };
  }

  if (direct) {
    await tx.execute(sql`
      update rule_runs set evaluated = ${result.evaluated}, matched = ${result.matched}, added = ${result.added},
        removed = ${result.removed}, finished_at = now(), duration_ms = ${Date.now() - started},
        details = ${JSON.stringify({ ...runDetails(opts, result), ...baseline })}::jsonb
      where id = ${result.runId!}`);
    return result;
  }
  result.runId = await recordRun(tx, loaded, opts, { ...result, status: "applied" }, baseline);
  if (result.added + result.removed > 0) await applyDiff(tx, loaded, opts, result.runId);
  await tx.execute(
    sql`update rule_runs set finished_at = now(), duration_ms = ${Date.now() - started} where id = ${result.runId}`,
  );
  return result;
}

/**
 * The run's diff, dropped at commit: one row per entity whose claim changes.
 * No index: it is only ever read whole, and its rows are unique by construction.
 */
export async function createDiffTable(tx: Tx): Promise<void> {
  await tx.execute(
    sql`create temp table rule_diff (entity_id text not null, action text not null, explanation jsonb) on commit drop`,
  );
}

/** The rule's claims within a scope, before the run changes any. */
async function countClaims(tx: Tx, loaded: LoadedRule, scope: Scope): Promise<number> {
  const def = loaded.definition;
  const tag = await findTag(tx, def.tag);
  if (!tag) return 0;
  // A scoped run counts the claims it could touch: counting them all would cost a scan per re-evaluation.
  const [row] = await rows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from claims
        where source = ${`rule:${def.id}`} and tag_id = ${tag.id} and entity_type = ${def.target}
          and ${"ids" in scope ? sql`entity_id in ${scope.ids.length ? scope.ids : [""]}` : sql`true`}`,
  );
  return row?.n ?? 0;
}

/**
 * Which entities an evaluation covers: given ids, the key range after `after`
 * through `through` (null: open), or those changed since a baseline run.
 */
export type Scope =
  | { ids: string[] }
  | { after: string | null; through: string | null }
  | { changedSince: Baseline };

/**
 * Where computed changes go: the run's temporary diff, a partition's rows of a
 * partitioned run, or (`apply`) straight into claims and tag events under the
 * given run, in the same statement that evaluates.
 */
export interface DiffTarget {
  table: SQL;
  columns: SQL;
  values: SQL;
  apply?: { runId: number; tagId: number };
}

const TEMP_DIFF: DiffTarget = { table: sql`rule_diff`, columns: sql``, values: sql`` };

export function partitionTarget(runKey: string, partition: number): DiffTarget {
  return {
    table: sql`run_partition_changes`,
    columns: sql`run_key, partition, `,
    values: sql`${runKey}::text, ${partition}::int, `,
  };
}

export interface ScopeEvaluation {
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  /** The rule's claims in the scope before the run, when the evaluation counted them on the way. */
  claimsBefore?: number;
  samples: { added: SampleChange[]; removed: SampleChange[] };
}

/**
 * Evaluates the rule over one scope and writes the changes against the rule's
 * current claims into `target`: additions and removals, including the claims
 * on entities that did not exist at the as-of instant. Writes no claims.
 */
export async function evaluateScope(
  tx: Tx,
  loaded: LoadedRule,
  opts: RunOptions,
  scope: Scope,
  target: DiffTarget,
): Promise<ScopeEvaluation> {
  const def = loaded.definition;
  const source = `rule:${def.id}`;
  const type = def.target;
  const asOf = opts.asOf.toISOString();
  const today = calendarDate(opts.asOf, opts.timezone);
  const evaluator = new RuleEvaluator(loaded);
  const sampleLimit = opts.dryRun ? (opts.samples ?? 10) : 0;
  const out: ScopeEvaluation = {
    evaluated: 0,
    matched: 0,
    added: 0,
    removed: 0,
    samples: { added: [], removed: [] },
  };
  const samples = out.samples;
  const tag = await findTag(tx, def.tag);

  const explanation = (evaluation: Evaluation): Explanation => ruleExplanation(loaded, asOf, evaluation);

  const scopeIds = "ids" in scope ? scope.ids : undefined;
  const changedSince = "changedSince" in scope ? scope.changedSince : undefined;
  const through = "through" in scope ? scope.through : null;
  // An incremental run decides only the entities that changed since its baseline, gathered first into a
  // table with statistics, so a few changed entities are probed by key rather than every row hashed;
  // with none, there is nothing to evaluate.
  const only = changedSince ? sql`(select rc.id from rule_candidates rc)` : undefined;
  let candidates = 0;
  if (changedSince) {
    await tx.execute(sql`create temp table rule_candidates on commit drop as
      ${changedEntities(loaded, changedSince, opts.asOf, tag?.id ?? null)}`);
    await tx.execute(sql`analyze rule_candidates`);
    const [c] = await rows<{ n: number }>(tx, sql`select count(*)::int as n from rule_candidates`);
    candidates = c!.n;
    if (candidates === 0) {
      const claims = changedSince.claims;
      Object.assign(out, { evaluated: 0, matched: claims, added: 0, removed: 0, claimsBefore: claims });
      return out;
    }
  }
  // A whole key range evaluates as one statement; a few given entities are cheaper per entity.
  if (!scopeIds && opts.evaluation !== "reference") {
    const compiled = compileRule(def);
    if (compiled.ok) {
      const range = { after: "after" in scope ? scope.after : null, through };
      const absent = absentExplanation(loaded, asOf);
      const [inForce] = await rows<{ found: boolean }>(
        tx,
        sql`select exists (select 1 from suppressions where tag_id = ${tag?.id ?? -1} and entity_type = ${type}
              and lifted_at is null) as found`,
      );
      const counts = await rows<{
        evaluated: number;
        matched: number;
        added: number;
        removed: number;
        claimsBefore: number;
      }>(
        tx,
        // One pass: every entity that existed at the as-of instant is decided, and the rule's claims on
        // entities that did not (created later, or gone) are removed.
        sql`with ev as materialized (
              ${compiled.rule.evaluation(
                { type, asOf: opts.asOf, today, timezone: opts.timezone, range, ...(only ? { only } : {}) },
                { source, tagId: tag?.id ?? null, ruleId: def.id, noSuppressions: inForce?.found === false },
              )}
            ), held as (
              select c.entity_id from claims c
              where c.source = ${source} and c.tag_id = ${tag?.id ?? -1} and c.entity_type = ${type}
                ${entityScope(sql`c.entity_id`, { range, only })}
            ), n as (
              -- Every count over the evaluation in one pass.
              select count(*)::int as evaluated, (count(*) filter (where ev.want))::int as matched,
                     (count(*) filter (where ev.has))::int as has, (select count(*) from held)::int as held
              from ev
            ), gone as (
              -- Only when some claims are on entities the evaluation did not see, find them by key.
              select h.entity_id from held h
              where (select n.has < n.held from n) and ${absentAt(type, sql`h.entity_id`, asOf)}
            ), diff as materialized (
              select ev.id as entity_id, case when ev.want then 'add' else 'remove' end as action, ev.explanation
              from ev where ev.want <> ev.has
              union all
              select gone.entity_id, 'remove', ${JSON.stringify(absent)}::jsonb from gone
            ), ${
              target.apply
                ? sql`${diffWrites(loaded, opts, target.apply)}, ins as (select action from diff)`
                : sql`ins as (
              insert into ${target.table} (${target.columns}entity_id, action, explanation)
              select ${target.values}d.entity_id, d.action, d.explanation from diff d
              returning action)`
            }
            select n.evaluated, n.matched,
                   (select count(*) from ins where action = 'add')::int as added,
                   (select count(*) from ins where action = 'remove')::int as removed,
                   ${changedSince ? ruleClaimCount(loaded, tag?.id ?? null) : sql`n.held`} as "claimsBefore"
            from n`,
      );
      const c = counts[0]!;
      Object.assign(out, c);
      // Outside the changed entities the claims already are the match set.
      if (changedSince) out.matched = c.claimsBefore + c.added - c.removed;
      if (sampleLimit > 0 && target === TEMP_DIFF) {
        const picked = await rows<{ entity_id: string; action: string; explanation: Explanation }>(
          tx,
          sql`(select entity_id, action, explanation from rule_diff where action = 'add' order by entity_id limit ${sampleLimit})
              union all
              (select entity_id, action, explanation from rule_diff where action = 'remove' order by entity_id limit ${sampleLimit})`,
        );
        const header = { rule: def.id, version: loaded.version, asOf };
        for (const p of picked) {
          const stored = p.explanation;
          (p.action === "add" ? samples.added : samples.removed).push({
            entityId: p.entity_id,
            explanation: isCompactExplanation(stored)
              ? ((expandExplanation(def, stored, header) as Explanation | undefined) ?? stored)
              : stored,
          });
        }
      }
      opts.onProgress?.(out.evaluated, out.evaluated);
      return out;
    }
    (opts.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(
      `rule ${def.id}: evaluated by json-rules-engine per entity, since it does not compile to SQL: ${compiled.reason}`,
    );
  }
  const total = scopeIds
    ? scopeIds.length
    : changedSince
      ? candidates
      : opts.onProgress
        ? await countEntities(tx, type, opts.asOf)
        : 0;
  const batchSize = opts.batchSize ?? 2000;
  let after: string | null = "after" in scope ? scope.after : null;
  let offset = 0;
  const factCtx = { type, asOf: opts.asOf, today, timezone: opts.timezone, requests: evaluator.requests };
  for (;;) {
    let batch: Awaited<ReturnType<typeof loadEntityBatch>>;
    let inBatch: SQL;
    if (scopeIds || changedSince) {
      // Given ids, or the changed entities a batch at a time in key order.
      const ids = scopeIds
        ? scopeIds.slice(offset, offset + batchSize)
        : (
            await rows<{ id: string }>(
              tx,
              sql`select id from rule_candidates ${after === null ? sql`` : sql`where id > ${after}`}
                  order by id limit ${batchSize}`,
            )
          ).map((r) => r.id);
      offset += batchSize;
      if (ids.length === 0) break;
      after = ids[ids.length - 1]!;
      batch = await loadEntityBatch(tx, factCtx, { ids });
      inBatch = sql`entity_id in ${ids}`;
    } else {
      batch = await loadEntityBatch(tx, factCtx, { after, limit: batchSize });
      // A key range ends at `through`: the next range's partition owns what follows.
      if (through !== null) batch = batch.filter((e) => e.id <= through);
      if (batch.length === 0) break;
      const first = batch[0]!.id;
      after = batch[batch.length - 1]!.id;
      inBatch = sql`entity_id >= ${first} and entity_id <= ${after}`;
    }
    const claimed = new Set<string>();
    const suppressed = new Set<string>();
    if (tag) {
      const found = await rows<{ entity_id: string; kind: string }>(
        tx,
        sql`select entity_id, 'claim' as kind from claims
            where source = ${source} and tag_id = ${tag.id} and entity_type = ${type} and ${inBatch}
            union all
            select entity_id, 'suppressed' from suppressions
            where tag_id = ${tag.id} and entity_type = ${type} and ${inBatch}
              and (rule_id is null or rule_id = ${def.id}) and lifted_at is null
              and (until is null or until > ${asOf}::timestamptz)`,
      );
      for (const r of found) (r.kind === "claim" ? claimed : suppressed).add(r.entity_id);
    }
    const diff: { id: string; action: "add" | "remove"; explanation: Explanation }[] = [];
    for (const entity of batch) {
      const evaluation = await evaluator.evaluate(computeFacts(entity, evaluator.requests, today));
      const has = claimed.has(entity.id);
      const want = claimedAfter(
        decide({
          matched: evaluation.matched,
          exitMatched: evaluation.exitMatched,
          held: has,
          suppressed: suppressed.has(entity.id),
        }),
      );
      if (want) out.matched++;
      if (want === has) continue;
      const change = {
        id: entity.id,
        action: want ? ("add" as const) : ("remove" as const),
        explanation: explanation(evaluation),
      };
      diff.push(change);
      const bucket = want ? samples.added : samples.removed;
      if (bucket.length < sampleLimit) bucket.push({ entityId: entity.id, explanation: change.explanation });
    }
    out.evaluated += batch.length;
    if (diff.length > 0) {
      await tx.execute(
        sql`insert into ${target.table} (${target.columns}entity_id, action, explanation) values ${sql.join(
          diff.map(
            (d) => sql`(${target.values}${d.id}, ${d.action}, ${JSON.stringify(d.explanation)}::jsonb)`,
          ),
          sql`, `,
        )}`,
      );
      for (const d of diff) {
        if (d.action === "add") out.added++;
        else out.removed++;
      }
    }
    opts.onProgress?.(out.evaluated, total);
    if (through !== null && after !== null && after >= through) break;
  }

  await removeClaimsOfAbsentEntities(tx, loaded, opts, scope, target, out, sampleLimit);
  if (changedSince) {
    // Outside the changed entities the claims already are the match set (the diff is not applied yet).
    const [c] = await rows<{ n: number }>(tx, sql`select ${ruleClaimCount(loaded, tag?.id ?? null)} as n`);
    out.claimsBefore = c!.n;
    out.matched = c!.n + out.added - out.removed;
  }
  return out;
}

/** Why a rule claims or drops a tag on one entity, from its evaluation there. */
export function ruleExplanation(loaded: LoadedRule, asOf: string, evaluation: Evaluation): Explanation {
  return {
    rule: loaded.definition.id,
    version: loaded.version,
    asOf,
    matched: evaluation.matched,
    ...(evaluation.exitMatched === undefined ? {} : { exitMatched: evaluation.exitMatched }),
    conditions: evaluation.conditions,
    ...(evaluation.exitConditions ? { exitConditions: evaluation.exitConditions } : {}),
  };
}

/** Why a rule drops its claim on an entity that did not exist at the as-of instant. */
export function absentExplanation(loaded: LoadedRule, asOf: string): Explanation {
  return {
    rule: loaded.definition.id,
    version: loaded.version,
    asOf,
    reason: "created after the as-of instant",
  };
}

/** How many claims the rule holds on its tag (tagId null: the tag does not exist yet, so none), as an expression. */
export function ruleClaimCount(loaded: LoadedRule, tagId: number | null): SQL {
  const def = loaded.definition;
  return sql`(select count(*) from claims c
    where c.source = ${`rule:${def.id}`} and c.tag_id = ${tagId ?? -1} and c.entity_type = ${def.target})::int`;
}

/** True where the entity with this id did not exist at the as-of instant (created later, or gone). */
function absentAt(type: "user" | "account", id: SQL, asOf: string): SQL {
  const table = entityTable(type);
  const created = createdColumn(type, "e");
  return sql`not exists (select 1 from ${table} e where e.id = ${id} and ${created} <= ${asOf}::timestamptz)`;
}

/** Entities created after the as-of instant did not exist then: the rule leaves them untagged. */
async function removeClaimsOfAbsentEntities(
  tx: Tx,
  loaded: LoadedRule,
  opts: RunOptions,
  scope: Scope,
  target: DiffTarget,
  out: ScopeEvaluation,
  sampleLimit: number,
): Promise<void> {
  const def = loaded.definition;
  const source = `rule:${def.id}`;
  const type = def.target;
  const asOf = opts.asOf.toISOString();
  const scopeIds = "ids" in scope ? scope.ids : undefined;
  const through = "through" in scope ? scope.through : null;
  const samples = out.samples;
  const tag = await findTag(tx, def.tag);
  if (tag) {
    const reason = absentExplanation(loaded, asOf);
    const inScope = scopeIds
      ? sql`c.entity_id in ${scopeIds.length ? scopeIds : [""]}`
      : "changedSince" in scope
        ? sql`c.entity_id in (select rc.id from rule_candidates rc)`
        : sql`${"after" in scope && scope.after !== null ? sql`c.entity_id > ${scope.after}` : sql`true`}
            and ${through !== null ? sql`c.entity_id <= ${through}` : sql`true`}`;
    const gone = await rows<{ entity_id: string }>(
      tx,
      sql`insert into ${target.table} (${target.columns}entity_id, action, explanation)
          select ${target.values}c.entity_id, 'remove', ${JSON.stringify(reason)}::jsonb
          from claims c
          where c.source = ${source} and c.tag_id = ${tag.id} and c.entity_type = ${type} and ${inScope}
            and ${absentAt(type, sql`c.entity_id`, asOf)}
          on conflict do nothing
          returning entity_id`,
    );
    out.removed += gone.length;
    for (const g of gone.slice(0, Math.max(0, sampleLimit - samples.removed.length))) {
      samples.removed.push({ entityId: g.entity_id, explanation: reason });
    }
  }
}

/**
 * The writes of a diff, as CTEs over a relation `diff` (entity_id, action,
 * explanation) of the same statement: tag events (additions first, each in key
 * order, membership changed where no other source holds the tag), then the
 * claims. A compiled run writes them from the statement that evaluates;
 * applyDiff from its temporary diff table.
 */
function diffWrites(loaded: LoadedRule, opts: RunOptions, apply: { runId: number; tagId: number }): SQL {
  const def = loaded.definition;
  return claimChangeWrites({
    type: def.target,
    from: sql`diff d`,
    action: sql`d.action`,
    entityId: sql`d.entity_id`,
    tagId: sql`${apply.tagId}`,
    source: sql`${`rule:${def.id}`}`,
    event: {
      rule: {
        id: sql`${def.id}`,
        version: sql`${loaded.version}`,
        runId: sql`${apply.runId}`,
        asOf: sql`${opts.asOf.toISOString()}::timestamptz`,
      },
      explanation: sql`d.explanation`,
    },
    order: sql`d.action, d.entity_id`,
    addOrder: sql`d.entity_id`,
  });
}

/**
 * Writes the computed diff: claims and one tag event per effective change,
 * set-based and in key order. The diff only adds claims the rule does not hold
 * and removes claims it holds, under the rule's lock, so no write can conflict.
 */
export async function applyDiff(tx: Tx, loaded: LoadedRule, opts: RunOptions, runId: number): Promise<void> {
  const tag = await ensureTag(tx, loaded.definition.tag);
  // The diff is joined below: without statistics the planner guesses its size (see also analyzeAfter).
  await tx.execute(sql`analyze rule_diff`);
  await tx.execute(sql`
    with diff as (select entity_id, action, explanation from rule_diff),
    ${diffWrites(loaded, opts, { runId, tagId: tag.id })}
    select 1`);
}

/** What a rule run records besides its counts: how scoped it was and the key that makes it idempotent. */
export function runDetails(opts: RunOptions, r: RunResult): Record<string, unknown> {
  return {
    claimsBefore: r.claimsBefore,
    ...(opts.entityIds === undefined ? {} : { scope: "entities", entities: opts.entityIds.length }),
    ...(opts.runKey === undefined ? {} : { runKey: opts.runKey }),
    ...(r.partitions === undefined ? {} : { partitions: r.partitions }),
    ...(r.incrementalSince === undefined ? {} : { scope: "changed", since: r.incrementalSince }),
  };
}

export async function recordRun(
  db: DbOrTx,
  loaded: LoadedRule,
  opts: RunOptions,
  r: RunResult,
  /** More details: an applied run over every entity records its snapshot as the next run's `baseline`. */
  extra?: Record<string, unknown>,
): Promise<number> {
  const [row] = await rows<{ id: number }>(
    db,
    // The version is kept with the run: the compact explanations of its tag events are read against it.
    sql`with version as (
          insert into rule_versions (rule_id, version, definition)
          values (${loaded.definition.id}, ${loaded.version}, ${JSON.stringify(loaded.definition)}::jsonb)
          on conflict do nothing)
        insert into rule_runs (rule_id, rule_version, trigger, as_of, status, forced, evaluated, matched, added, removed,
                               finished_at, duration_ms, error, details)
        values (${loaded.definition.id}, ${loaded.version}, ${opts.trigger}, ${opts.asOf.toISOString()}::timestamptz,
                ${r.status}, ${opts.force ?? false}, ${r.evaluated}, ${r.matched}, ${r.added}, ${r.removed},
                now(), ${r.durationMs}, ${r.error ?? null}, ${JSON.stringify({ ...runDetails(opts, r), ...extra })}::jsonb)
        returning id::int as id`,
  );
  return row!.id;
}
