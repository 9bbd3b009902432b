import { type SQL, sql } from "drizzle-orm";
import { rows, type Tx } from "../../db/client.ts";
import type { EntityType } from "../../facts/catalog.ts";
import type { Explanation } from "../explanation.ts";
import { absentAt } from "./scope.ts";

export interface CompiledRunCounts {
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  claimsBefore: number;
}

/**
 * A compiled rule's run over a scope as one statement: every entity that
 * existed at the as-of instant is decided by `evaluation` (rows id, want, has,
 * explanation), the rule's claims on entities that did not (created later, or
 * gone) are removed, and the changes are written by `writes` (CTEs over the
 * relation `diff`, ending in a CTE `ins` of the actions written). Returns the
 * counts; `claimsBefore` is the given expression, or the claims the scope held.
 */
export async function runCompiled(
  tx: Tx,
  p: {
    evaluation: SQL;
    source: string;
    tagId: number | null;
    type: EntityType;
    /** Conditions (each starting with `and`) keeping an entity id column to the scope. */
    inScope: (id: SQL) => SQL;
    asOf: string;
    absent: Explanation;
    writes: SQL;
    claimsBefore?: SQL;
  },
): Promise<CompiledRunCounts> {
  const counts = await rows<CompiledRunCounts>(
    tx,
    sql`with ev as materialized (
              ${p.evaluation}
            ), held as (
              select c.entity_id from claims c
              where c.source = ${p.source} and c.tag_id = ${p.tagId ?? -1} and c.entity_type = ${p.type}
                ${p.inScope(sql`c.entity_id`)}
            ), n as (
              -- Every count over the evaluation in one pass.
              select count(*)::int as evaluated, (count(*) filter (where ev.want))::int as matched,
                     (count(*) filter (where ev.has))::int as has, (select count(*) from held)::int as held
              from ev
            ), gone as (
              -- Only when some claims are on entities the evaluation did not see, find them by key.
              select h.entity_id from held h
              where (select n.has < n.held from n) and ${absentAt(p.type, sql`h.entity_id`, p.asOf)}
            ), diff as materialized (
              select ev.id as entity_id, case when ev.want then 'add' else 'remove' end as action, ev.explanation
              from ev where ev.want <> ev.has
              union all
              select gone.entity_id, 'remove', ${JSON.stringify(p.absent)}::jsonb from gone
            ), ${p.writes}
            select n.evaluated, n.matched,
                   (select count(*) from ins where action = 'add')::int as added,
                   (select count(*) from ins where action = 'remove')::int as removed,
                   ${p.claimsBefore ?? sql`n.held`} as "claimsBefore"
            from n`,
  );
  return counts[0]!;
}
