import { type SQL, sql } from "drizzle-orm";
import type { EntityType } from "../facts/catalog.ts";
import { createdColumn, entityTable } from "../facts/sql/entities.ts";
import type { RuleDefinition } from "../rules/types.ts";
import { type Builder, type Compiled, compileNode, factColumns, newBuilder } from "./compile-conditions.ts";
import { isRefused, type Refused } from "./compile-operators.ts";
import { wantSql } from "./decide.ts";

/**
 * Rules compiled to SQL (DESIGN section 4, the fast path): a rule's
 * conditions over the fact catalog become one parameterized statement that
 * evaluates every entity at once, from the activity summary (active days) and
 * the rollups (event counts, modules). Every value, tag name and
 * attribute path is a bound parameter; only identifiers this module chooses
 * itself are ever part of the SQL text. A rule that cannot compile says why
 * and runs on the json-rules-engine path instead.
 */

export interface CompileContext {
  type: EntityType;
  asOf: Date;
  today: string;
  timezone: string;
  /** Only entities with after < id <= through (null: open end), for partitions of a run. */
  range?: { after: string | null; through: string | null };
  /**
   * Only the entities this subquery returns (one column of ids), for a run that
   * re-evaluates what changed since the rule's last run: every part of the
   * statement, rollup windows included, reads only their rows.
   */
  only?: SQL;
}

/** Rows of the evaluation: the entity, whether it should have the tag, whether it has the rule's claim. */
export interface CompiledRule {
  /**
   * A SELECT over every entity that existed at the as-of instant, with columns
   * id, want (boolean), has (boolean) and explanation (a CompactExplanation as
   * jsonb, only where want differs from has). `source` and `tagId` identify the rule's claims.
   */
  evaluation(ctx: CompileContext, claims: ClaimsOf): SQL;
}

/** Whose claims the statement compares with. */
export interface ClaimsOf {
  source: string;
  tagId: number | null;
  ruleId: string;
  /**
   * No suppression of the tag is in force for the entity type, as the caller
   * found in its transaction: the statement then reads none (even an empty
   * join costs every rule's evaluation time on a large workspace).
   */
  noSuppressions?: boolean;
}

export type CompileResult = { ok: true; rule: CompiledRule } | { ok: false; reason: string };

/**
 * The conditions (each starting with `and`) that keep an entity id column to
 * the entities a statement evaluates: those of `only`, within `range`.
 */
export function entityScope(id: SQL, scope: Pick<CompileContext, "only" | "range">): SQL {
  const { only, range } = scope;
  return sql`${only ? sql`and ${id} in ${only}` : sql``}${
    range?.after != null ? sql` and ${id} > ${range.after}` : sql``
  }${range?.through != null ? sql` and ${id} <= ${range.through}` : sql``}`;
}

/** The rule's conditions and exit conditions, each one predicate over the builder's fact columns. */
function compileConditions(b: Builder, def: RuleDefinition): { enter: Compiled; exit?: Compiled } | Refused {
  const enter = compileNode(b, def.conditions, def.sharedConditions);
  if (isRefused(enter)) return enter;
  if (!def.exitConditions) return { enter };
  const exit = compileNode(b, def.exitConditions, def.sharedConditions);
  return isRefused(exit) ? exit : { enter, exit };
}

/** Compiles a rule, or says why it cannot be compiled. */
export function compileRule(def: RuleDefinition): CompileResult {
  // Whether every part has a SQL form does not depend on the context: a placeholder one finds out.
  const checked = compileConditions(newBuilder(def.target, "1970-01-01", "UTC"), def);
  if (isRefused(checked)) return { ok: false, reason: checked.refused };
  return { ok: true, rule: { evaluation: (ctx, claims) => statement(def, ctx, claims) } };
}

function statement(def: RuleDefinition, ctx: CompileContext, claims: ClaimsOf): SQL {
  const b = newBuilder(def.target, ctx.today, ctx.timezone);
  const conditions = compileConditions(b, def);
  if (isRefused(conditions))
    throw new Error(`rule ${def.id} compiled before, but now: ${conditions.refused}`);
  const { enter, exit } = conditions;
  const t = ctx.asOf.toISOString();
  const type = def.target;
  const table = entityTable(type);
  const createdCol = createdColumn(type, "e");
  const tagId = claims.tagId ?? -1;
  // Applied to every part keyed by entity, not only to the entities: a partition then reads its own
  // slice of the rollups, the summary and the claims by their keys, not all of them to keep its share.
  const only = (id: SQL) => entityScope(id, ctx);

  const { ctes, joins } = b.joins.render({ type, today: b.today, asOf: t, only });
  ctes.push(sql`cl as (select entity_id from claims
      where source = ${claims.source} and tag_id = ${tagId} and entity_type = ${type} ${only(sql`entity_id`)})`);
  joins.push(sql`left join cl on cl.entity_id = e.id`);
  if (!claims.noSuppressions) {
    ctes.push(sql`sup as (select distinct entity_id from suppressions
      where tag_id = ${tagId} and entity_type = ${type} and lifted_at is null
        and (rule_id is null or rule_id = ${claims.ruleId}) and (until is null or until > ${t}::timestamptz)
        ${only(sql`entity_id`)})`);
    joins.push(sql`left join sup on sup.entity_id = e.id`);
  }
  const suppressed = claims.noSuppressions ? sql`false` : sql`(sup.entity_id is not null)`;

  const factCols = factColumns(b);
  // The compact explanation (see CompactExplanation): the leaves' values and outcomes only.
  const leaves = [...enter.leaves, ...(exit?.leaves ?? [])];
  // A function takes at most 100 arguments: longer arrays are built in pieces and concatenated.
  const array = (items: SQL[]) => {
    if (items.length === 0) return sql`'[]'::jsonb`;
    const pieces: SQL[] = [];
    for (let at = 0; at < items.length; at += 100) {
      pieces.push(sql`jsonb_build_array(${sql.join(items.slice(at, at + 100), sql`, `)})`);
    }
    return sql`(${sql.join(pieces, sql` || `)})`;
  };
  const explanation = sql`jsonb_build_object('matched', ${enter.pred}${
    exit ? sql`, 'exitMatched', ${exit.pred}` : sql``
  }, 'suppressed', x.suppressed, 'facts', ${array(leaves.map((l) => l.value))}, 'results', ${array(
    leaves.map((l) => l.pred),
  )})`;
  return sql`
    with ${sql.join(ctes, sql`, `)}
    select y.id, y.want, y.has, case when y.want <> y.has then y.explanation end as explanation
    from (
      select x.id, x.has,
        ${wantSql({ matched: enter.pred, exitMatched: exit?.pred, held: sql`x.has`, suppressed: sql`x.suppressed` })} as want,
        ${explanation} as explanation
      from (
        select e.id, (cl.entity_id is not null) as has, ${suppressed} as suppressed
          ${factCols.length ? sql`, ${sql.join(factCols, sql`, `)}` : sql``}
        from ${table} e
        ${sql.join(joins, sql` `)}
        where ${createdCol} <= ${t}::timestamptz ${only(sql`e.id`)}
        -- Not pulled up into the outer query: each fact is computed once per entity, not once per place a
        -- condition, its result in the explanation, or the decision refers to it.
        offset 0
      ) x
    ) y`;
}
