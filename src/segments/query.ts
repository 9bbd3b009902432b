import { findTags } from "../claims/sql/tags.ts";
import { normalizeTagName } from "../claims/tag-name.ts";
import type { DbOrTx } from "../db/client.ts";
import { poolOf } from "../db/connections.ts";
import { transactionConnection } from "../db/transaction.ts";
import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { SEGMENT_EVALUATION_BUDGET_MS, SEGMENT_EVALUATION_SLICE } from "../limits.ts";
import { type CompiledRule, compileRule } from "../runs/compile.ts";
import { RuleEvaluator } from "../runs/evaluate.ts";
import { evaluateEntities } from "../runs/evaluate-entities.ts";
import { decodeCursor, encodeCursor, isString } from "../tags/cursor.ts";
import { conditionsAsRule, validateSegmentConditions } from "./conditions.ts";
import { idsSubquery, matchingCount, matchingIds } from "./sql/matching.ts";
import {
  claimedIdsQuery,
  type SegmentAccountRow,
  type SegmentUserRow,
  segmentCount,
  segmentIds,
  segmentRows,
  type TagFilter,
} from "./sql/segments.ts";

export type { SegmentAccountRow, SegmentUserRow };
export type SegmentRow = SegmentUserRow | SegmentAccountRow;

/**
 * Entities of one type filtered by "Tagged with" and "Is not tagged" over one
 * or several tags, and optionally by conditions in the rule condition format.
 * `match` combines the tag tests: all of them, or any one. Conditions always
 * apply on top, evaluated as of `asOf` by the rule evaluator.
 */
export interface SegmentQuery {
  type: EntityType;
  taggedWith?: readonly string[];
  notTagged?: readonly string[];
  match?: "all" | "any";
  conditions?: unknown;
  /** Time this request may spend evaluating conditions (SIGNALTAG_SEGMENT_BUDGET_MS); default SEGMENT_EVALUATION_BUDGET_MS. */
  budgetMs?: number;
}

export interface EvaluationClock {
  asOf: Date;
  timezone: string;
}

export interface ResolvedSegment {
  type: EntityType;
  filter: TagFilter;
  /** The conditions as one SQL statement over many entities (the runs' compiled form), when they have one. */
  compiled?: CompiledRule;
  /** The conditions entity by entity, for those that have no SQL form. */
  evaluator?: RuleEvaluator;
  /** Evaluation time left for this request (docs/limits.md); spent only while conditions are evaluated. */
  budget: { leftMs: number; totalMs: number };
  /** Tag names that name no tag (nobody has them); reported so a typo does not pass silently. */
  unknownTags: string[];
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;
const BATCH = 1000;
const COUNT_BATCH = 20_000;

export async function resolveSegment(db: DbOrTx, q: SegmentQuery): Promise<ResolvedSegment> {
  const taggedWith = (q.taggedWith ?? []).map((n, i) => normalizeTagName(n, `taggedWith[${i}]`));
  const notTagged = (q.notTagged ?? []).map((n, i) => normalizeTagName(n, `notTagged[${i}]`));
  const conditions = q.conditions === undefined ? undefined : validateSegmentConditions(q.conditions, q.type);
  const found = await findTags(db, [...taggedWith, ...notTagged]);
  const unknownTags = [...new Set([...taggedWith, ...notTagged].filter((n) => !found.has(n)))];
  const rule = conditions ? conditionsAsRule(q.type, conditions) : undefined;
  const compiled = rule ? compileRule(rule.definition) : undefined;
  return {
    type: q.type,
    filter: {
      type: q.type,
      match: q.match ?? "all",
      criteria: [
        ...taggedWith.map((n) => ({ tagId: found.get(n)?.id, tagged: true })),
        ...notTagged.map((n) => ({ tagId: found.get(n)?.id, tagged: false })),
      ],
    },
    ...(compiled?.ok ? { compiled: compiled.rule } : {}),
    ...(rule && !compiled?.ok ? { evaluator: new RuleEvaluator(rule) } : {}),
    budget: {
      leftMs: q.budgetMs ?? SEGMENT_EVALUATION_BUDGET_MS,
      totalMs: q.budgetMs ?? SEGMENT_EVALUATION_BUDGET_MS,
    },
    unknownTags,
  };
}

/** Charges evaluation time to the request's budget; refuses the request once it is spent. */
function charge(segment: ResolvedSegment, ms: number): void {
  segment.budget.leftMs -= ms;
  // At zero too: a budget of 0 refuses any evaluation, whatever the clock's resolution.
  if (segment.budget.leftMs <= 0) {
    const { totalMs } = segment.budget;
    throw new InputError(
      `evaluating the conditions took longer than the ${totalMs / 1000} s a segment request may spend on them: narrow the query (fewer conditions, or tags that select fewer ${segment.type}s)`,
      { code: "segment_too_slow", details: { field: "conditions", budgetMs: totalMs } },
    );
  }
}

async function keepMatching(
  db: DbOrTx,
  segment: ResolvedSegment,
  ids: string[],
  clock: EvaluationClock,
): Promise<string[]> {
  // Entities created after the as-of instant are not evaluated: they did not exist then, so they do not match.
  const matched = new Set<string>();
  if (segment.compiled) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const started = performance.now();
    const scope = { type: segment.type, ...clock, only: idsSubquery(ids) };
    for (const id of await matchingIds(db, segment.compiled, scope)) matched.add(id);
    charge(segment, performance.now() - started);
    return ids.filter((id) => matched.has(id));
  }
  const evaluator = segment.evaluator;
  if (!evaluator) return ids;
  for (let at = 0; at < ids.length; at += SEGMENT_EVALUATION_SLICE) {
    // A slice at a time with a turn of the event loop between, so /health and other requests are answered.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const started = performance.now();
    const slice = ids.slice(at, at + SEGMENT_EVALUATION_SLICE);
    const evaluated = await evaluateEntities(db, evaluator, segment.type, slice, clock);
    for (const e of evaluated) if (e.evaluation.matched) matched.add(e.id);
    charge(segment, performance.now() - started);
  }
  return ids.filter((id) => matched.has(id));
}

/** The segment's entity ids after a key, in id order, in batches. */
export async function* segmentBatches(
  db: DbOrTx,
  segment: ResolvedSegment,
  clock: EvaluationClock,
  after?: string,
  size = BATCH,
): AsyncGenerator<string[]> {
  let key = after;
  for (;;) {
    const candidates = await segmentIds(db, segment.filter, { after: key, limit: size });
    if (candidates.length === 0) return;
    key = candidates[candidates.length - 1];
    const ids =
      segment.compiled || segment.evaluator ? await keepMatching(db, segment, candidates, clock) : candidates;
    if (ids.length > 0) yield ids;
    if (candidates.length < size) return;
  }
}

export async function countSegment(
  db: DbOrTx,
  segment: ResolvedSegment,
  clock: EvaluationClock,
): Promise<number> {
  if (!segment.evaluator && !segment.compiled) return segmentCount(db, segment.filter);
  const tagged = claimedIdsQuery(segment.filter);
  if (segment.compiled && tagged && onServer(db)) {
    // The tag bounds the candidates, and on Postgres one pass over them is off this process's event
    // loop and a third of the time of 20,000-id slices (53,708 candidates: 0.34-0.52 s against 0.9-1.6 s).
    const started = performance.now();
    const n = await matchingCount(db, segment.compiled, { type: segment.type, ...clock, only: tagged });
    charge(segment, performance.now() - started);
    return n;
  }
  // Compiled conditions are one statement per slice, so a slice can be large: few round trips, and
  // the budget is still checked (and the event loop turned) between slices.
  const size = segment.compiled ? COUNT_BATCH : BATCH;
  let n = 0;
  for await (const ids of segmentBatches(db, segment, clock, undefined, size)) n += ids.length;
  return n;
}

/** Postgres, not the embedded database (whose statements run on this process's event loop). */
function onServer(db: DbOrTx): boolean {
  return poolOf(db) !== undefined || transactionConnection(db) !== undefined;
}

export interface SegmentPage {
  entityType: EntityType;
  /** Every entity of the segment, over all pages (absent when not asked for). */
  count?: number;
  rows: SegmentRow[];
  nextCursor: string | null;
  unknownTags: string[];
}

/** One keyset page of a segment's rows, with the segment's count. */
export async function segmentPage(
  db: DbOrTx,
  q: SegmentQuery,
  opts: EvaluationClock & { cursor?: string; limit?: number; count?: boolean },
): Promise<SegmentPage> {
  const limit = Math.min(opts.limit ?? DEFAULT_PAGE, MAX_PAGE);
  const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, isString);
  const segment = await resolveSegment(db, q);
  const ids: string[] = [];
  // Without conditions every candidate is a row: ask for the page and one more, not a whole batch.
  const size = segment.compiled || segment.evaluator ? BATCH : limit + 1;
  for await (const batch of segmentBatches(db, segment, opts, after, size)) {
    ids.push(...batch);
    if (ids.length > limit) break;
  }
  const page = ids.slice(0, limit);
  const rows = (await segmentRows(db, q.type, page)).map((r) => ({ ...r, tags: sortNames(r.tags) }));
  return {
    entityType: q.type,
    ...(opts.count === false ? {} : { count: await countSegment(db, segment, opts) }),
    rows,
    nextCursor: ids.length > limit ? encodeCursor(page[page.length - 1]) : null,
    unknownTags: segment.unknownTags,
  };
}

/** Every row of a segment, in id order, a batch at a time (for exports). */
export async function* segmentAllRows(
  db: DbOrTx,
  q: SegmentQuery,
  clock: EvaluationClock,
): AsyncGenerator<SegmentRow[]> {
  const segment = await resolveSegment(db, q);
  for await (const ids of segmentBatches(db, segment, clock)) {
    yield (await segmentRows(db, q.type, ids)).map((r) => ({ ...r, tags: sortNames(r.tags) }));
  }
}

function sortNames(names: string[]): string[] {
  return [...names].sort((a, b) => a.localeCompare(b));
}
