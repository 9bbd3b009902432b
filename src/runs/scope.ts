import type { Tx } from "../db/client.ts";
import type { EntityInput } from "../facts/compute.ts";
import { type FactContext, loadEntityBatch } from "../facts/sql/entity-batch.ts";
import type { LoadedRule } from "../rules/types.ts";
import { type Baseline, findBaseline, type RunSnapshot } from "./incremental.ts";
import type { RunPolicy, RunScope } from "./run-options.ts";
import { lockChangeLogShared, takeSnapshot } from "./sql/change-log.ts";
import { candidatesAfter } from "./sql/scope.ts";

/**
 * Which entities an evaluation covers: given ids, the key range after `after`
 * through `through` (null: open), or those changed since a baseline run.
 */
export type Scope =
  | { ids: string[] }
  | { after: string | null; through: string | null }
  | { changedSince: Baseline };

export interface RunScopeChoice {
  scope: Scope;
  /** A run over every entity: the snapshot it evaluates under, which the next run can start from. */
  snapshot?: RunSnapshot;
}

/**
 * The scope of one rule's run: the given entities, or every entity; of every
 * entity only those changed since the rule's last run when that run allows it.
 */
export async function chooseScope(
  tx: Tx,
  loaded: LoadedRule,
  opts: Pick<RunPolicy, "asOf" | "timezone" | "incremental"> & Pick<RunScope, "entityIds">,
): Promise<RunScopeChoice> {
  if (opts.entityIds !== undefined) return { scope: { ids: [...new Set(opts.entityIds)].sort() } };
  // The snapshot is taken before anything is read, under the lock that keeps the change log it relies on.
  await lockChangeLogShared(tx);
  const snapshot = await takeSnapshot(tx);
  if (opts.incremental !== false) {
    const found = await findBaseline(tx, loaded, opts.asOf, opts.timezone);
    if (found.ok) return { scope: { changedSince: found.baseline }, snapshot };
  }
  return { scope: { after: null, through: null }, snapshot };
}

/** The keys of one batch: its ids, or the range from its first to its last entity. */
export type BatchKeys = { ids: string[] } | { first: string; last: string };

export interface EntityBatch {
  /** The batch's entities that existed at the as-of instant, with what their facts are computed from. */
  entities: EntityInput[];
  keys: BatchKeys;
}

/**
 * The scope's entities a batch at a time, in key order: the given ids, the
 * changed entities (the candidates table), or a key range (which ends at
 * `through`: the next range's partition owns what follows).
 */
export async function* scopeBatches(
  tx: Tx,
  scope: Scope,
  facts: FactContext,
  batchSize: number,
): AsyncGenerator<EntityBatch> {
  const through = "through" in scope ? scope.through : null;
  let after: string | null = "after" in scope ? scope.after : null;
  let offset = 0;
  for (;;) {
    let batch: EntityBatch;
    if (!("through" in scope)) {
      const ids =
        "ids" in scope
          ? scope.ids.slice(offset, offset + batchSize)
          : await candidatesAfter(tx, after, batchSize);
      offset += batchSize;
      if (ids.length === 0) return;
      after = ids[ids.length - 1]!;
      batch = { entities: await loadEntityBatch(tx, facts, { ids }), keys: { ids } };
    } else {
      let entities = await loadEntityBatch(tx, facts, { after, limit: batchSize });
      if (through !== null) entities = entities.filter((e) => e.id <= through);
      if (entities.length === 0) return;
      const first = entities[0]!.id;
      after = entities[entities.length - 1]!.id;
      batch = { entities, keys: { first, last: after } };
    }
    yield batch;
    if (through !== null && after !== null && after >= through) return;
  }
}
