import { type SQL, sql } from "drizzle-orm";
import { claimChangeWrites } from "../../claims/write-changes.ts";
import { rows, type Tx } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import type { LoadedRule } from "../../rules/types.ts";
import type { DiffTarget } from "../diff.ts";
import type { Explanation } from "../explanation.ts";
import type { Scope } from "../scope.ts";
import { absentAt, claimInScope } from "./scope.ts";

/**
 * A run's diff: one row (entity_id, action 'add' or 'remove', explanation)
 * per entity whose claim changes, in the run's temporary table or in a
 * partition's rows of a partitioned run.
 */

/**
 * The run's diff, dropped at commit. No index: it is only ever read whole,
 * and its rows are unique by construction.
 */
export async function createDiffTable(tx: Tx): Promise<void> {
  await tx.execute(
    sql`create temp table rule_diff (entity_id text not null, action text not null, explanation jsonb) on commit drop`,
  );
}

/** Where diff rows are inserted: the table, its leading columns and their values. */
function into(target: Exclude<DiffTarget, { kind: "apply" }>): { table: SQL; columns: SQL; values: SQL } {
  return target.kind === "temp"
    ? { table: sql`rule_diff`, columns: sql``, values: sql`` }
    : {
        table: sql`run_partition_changes`,
        columns: sql`run_key, partition, `,
        values: sql`${target.runKey}::text, ${target.partition}::int, `,
      };
}

/** A CTE `ins` that inserts the rows of relation `d` into the target, returning their actions. */
export function insertDiffCte(target: Exclude<DiffTarget, { kind: "apply" }>): SQL {
  const t = into(target);
  return sql`ins as (
              insert into ${t.table} (${t.columns}entity_id, action, explanation)
              select ${t.values}d.entity_id, d.action, d.explanation from diff d
              returning action)`;
}

/** The CTE `ins` after writes that apply the relation `diff` in the same statement: its actions. */
export function appliedDiffCte(writes: SQL): SQL {
  return sql`${writes}, ins as (select action from diff)`;
}

/** Inserts computed changes into the target. */
export async function insertDiffRows(
  tx: Tx,
  target: Exclude<DiffTarget, { kind: "apply" }>,
  diff: readonly { id: string; action: "add" | "remove"; explanation: Explanation }[],
): Promise<void> {
  const t = into(target);
  await tx.execute(
    sql`insert into ${t.table} (${t.columns}entity_id, action, explanation) values ${sql.join(
      diff.map((d) => sql`(${t.values}${d.id}, ${d.action}, ${JSON.stringify(d.explanation)}::jsonb)`),
      sql`, `,
    )}`,
  );
}

/**
 * Removes, into the target, the rule's claims in the scope on entities that
 * did not exist at the as-of instant; returns their ids.
 */
export async function insertAbsentRemovals(
  tx: Tx,
  target: Exclude<DiffTarget, { kind: "apply" }>,
  p: { source: string; tagId: number; type: EntityType; asOf: string; scope: Scope; reason: Explanation },
): Promise<string[]> {
  const t = into(target);
  const gone = await rows<{ entity_id: string }>(
    tx,
    sql`insert into ${t.table} (${t.columns}entity_id, action, explanation)
        select ${t.values}c.entity_id, 'remove', ${JSON.stringify(p.reason)}::jsonb
        from claims c
        where c.source = ${p.source} and c.tag_id = ${p.tagId} and c.entity_type = ${p.type} and ${claimInScope(p.scope)}
          and ${absentAt(p.type, sql`c.entity_id`, p.asOf)}
        on conflict do nothing
        returning entity_id`,
  );
  return gone.map((g) => g.entity_id);
}

/** The first changes each way of the run's diff, by entity id. */
export async function diffSamples(
  tx: Tx,
  limit: number,
): Promise<{ entity_id: string; action: string; explanation: unknown }[]> {
  return rows(
    tx,
    sql`(select entity_id, action, explanation from rule_diff where action = 'add' order by entity_id limit ${limit})
          union all
          (select entity_id, action, explanation from rule_diff where action = 'remove' order by entity_id limit ${limit})`,
  );
}

/** Makes the run's diff readable in key order (action, entity id), page after page. */
export async function indexDiffTable(tx: Tx): Promise<void> {
  await tx.execute(sql`create index on rule_diff (action, entity_id)`);
  await tx.execute(sql`analyze rule_diff`);
}

/** The run's diff after the key (action, entity id), in key order: one page. */
export async function diffPage(
  tx: Tx,
  after: { action: string; entityId: string } | undefined,
  limit: number,
): Promise<{ entity_id: string; action: "add" | "remove"; explanation: unknown }[]> {
  return rows(
    tx,
    sql`select entity_id, action, explanation from rule_diff
        ${after ? sql`where (action, entity_id) > (${after.action}, ${after.entityId})` : sql``}
        order by action, entity_id limit ${limit}`,
  );
}

/** Writes the run's diff with `writes` (CTEs over a relation `diff` of its rows). */
export async function writeDiffTable(tx: Tx, writes: SQL): Promise<void> {
  // The diff is joined below: without statistics the planner guesses its size.
  await tx.execute(sql`analyze rule_diff`);
  await tx.execute(sql`
    with diff as (select entity_id, action, explanation from rule_diff),
    ${writes}
    select 1`);
}

/**
 * The writes of a diff, as CTEs over a relation `diff` (entity_id, action,
 * explanation) of the same statement: tag events (additions first, each in
 * key order, membership changed where no other source holds the tag), then
 * the claims. A compiled run writes them from the statement that evaluates;
 * applyDiff from the run's temporary diff.
 */
export function diffWrites(loaded: LoadedRule, asOf: Date, apply: { runId: number; tagId: number }): SQL {
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
        asOf: sql`${asOf.toISOString()}::timestamptz`,
      },
      explanation: sql`d.explanation`,
    },
    order: sql`d.action, d.entity_id`,
    addOrder: sql`d.entity_id`,
  });
}
