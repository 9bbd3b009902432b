import { type SQL, sql } from "drizzle-orm";
import { type EntityType, findFact } from "../facts/catalog.ts";
import { factKey } from "../facts/compute.ts";
import type { Fact, FactSql } from "../facts/fact.ts";
import { FactJoins } from "../facts/sql/fact-joins.ts";
import { parseJsonPath } from "../rules/json-path.ts";
import type { Condition, FactCondition, RuleDefinition, TopLevelCondition } from "../rules/types.ts";
import { isRefused, jsonbPredicate, type Refused, refuse, valuePredicate } from "./compile-operators.ts";

/**
 * A rule's condition trees as SQL predicates over the fact columns `x.f0`,
 * `x.f1`, … of the statement's inner select; each fact (with its params) is
 * one column, computed once however many conditions read it.
 */

/** A fact the statement computes, as one column of the inner select. */
interface FactColumn {
  alias: string;
  expr: SQL;
}

export interface Builder {
  type: EntityType;
  /** Today's date, as a date expression. */
  today: SQL;
  timezone: string;
  /** By fact key (the fact and its params). */
  columns: Map<string, FactColumn>;
  joins: FactJoins;
}

export function newBuilder(type: EntityType, today: string, timezone: string): Builder {
  return { type, today: sql`${today}::date`, timezone, columns: new Map(), joins: new FactJoins() };
}

/** The fact columns, as the inner select lists them. */
export function factColumns(b: Builder): SQL[] {
  return [...b.columns.values()].map((c) => sql`${c.expr} as ${sql.raw(c.alias)}`);
}

/** The column holding a leaf's fact (before any path), typed as the catalog says. */
function factColumn(b: Builder, leaf: FactCondition, fact: Fact): FactColumn | Refused {
  if (!fact.targets.includes(b.type)) return refuse(`fact ${leaf.fact} does not apply to ${b.type}s`);
  for (const [name, param] of Object.entries(fact.params)) {
    if (param.type !== "days") continue;
    const days = Number(leaf.params?.[name]);
    if (!Number.isInteger(days) || days < 1)
      return refuse(`fact ${leaf.fact} needs an integer "${name}" param`);
  }
  const key = factKey(leaf.fact, leaf.params);
  let col = b.columns.get(key);
  if (!col) {
    const q: FactSql = {
      type: b.type,
      today: b.today,
      timezone: b.timezone,
      column: b.columns.size,
      window: (days) => b.joins.window(days),
      summary: () => b.joins.summary(),
      join: (join) => b.joins.join(join),
    };
    col = { alias: `f${b.columns.size}`, expr: fact.sql(q, leaf.params ?? {}) };
    b.columns.set(key, col);
  }
  return col;
}

/** A leaf as a boolean SQL expression over the fact columns, and the value it tests (as jsonb). */
function leafPredicate(b: Builder, leaf: FactCondition): { pred: SQL; value: SQL } | Refused {
  const fact = findFact(leaf.fact);
  if (!fact) return refuse(`unknown fact ${leaf.fact}`);
  const col = factColumn(b, leaf, fact);
  if (isRefused(col)) return col;
  const f = sql`x.${sql.raw(col.alias)}`;
  const x = leaf.value;
  if (x !== null && typeof x === "object" && !Array.isArray(x) && "fact" in x) {
    return refuse("a value that refers to another fact");
  }
  if (fact.valueType === "object") {
    if (leaf.path === undefined) return refuse(`fact ${leaf.fact} without a path`);
    const segments = parseJsonPath(leaf.path);
    if (!segments) return refuse(`path ${leaf.path} is outside the simple subset`);
    const v = sql`(${f} #> array(select jsonb_array_elements_text(${JSON.stringify(segments.map(String))}::jsonb)))`;
    const pred = jsonbPredicate(v, leaf.operator, x);
    return isRefused(pred) ? pred : { pred, value: sql`coalesce(${v}, 'null'::jsonb)` };
  }
  if (leaf.path !== undefined) return refuse(`a path on the non-object fact ${leaf.fact}`);
  // The tags fact holds lower-case names (tag names are unique case-insensitively).
  const value = leaf.fact === "tags" && typeof x === "string" ? x.toLowerCase() : x;
  const pred = valuePredicate(f, fact.valueType, leaf.operator, value);
  return isRefused(pred) ? pred : { pred, value: sql`to_jsonb(${f})` };
}

export interface Compiled {
  pred: SQL;
  /** Each leaf's fact value (jsonb) and outcome, in the order expandExplanation walks them. */
  leaves: { value: SQL; pred: SQL }[];
}

/** A condition tree as one predicate, or why it has no SQL form. */
export function compileNode(
  b: Builder,
  node: Condition | TopLevelCondition,
  shared: RuleDefinition["sharedConditions"],
  depth = 0,
): Compiled | Refused {
  if (depth > 64) return refuse("conditions nested too deeply");
  if ("all" in node || "any" in node) {
    const kind = "all" in node ? "all" : "any";
    const children: Compiled[] = [];
    for (const c of "all" in node ? node.all : (node as { any: Condition[] }).any) {
      const child = compileNode(b, c, shared, depth + 1);
      if (isRefused(child)) return child;
      children.push(child);
    }
    const pred =
      children.length === 0
        ? sql.raw(kind === "all" ? "true" : "false")
        : sql`(${sql.join(
            children.map((c) => c.pred),
            sql.raw(kind === "all" ? " and " : " or "),
          )})`;
    return { pred, leaves: children.flatMap((c) => c.leaves) };
  }
  if ("not" in node) {
    const inner = compileNode(b, node.not, shared, depth + 1);
    if (isRefused(inner)) return inner;
    return { pred: sql`(not ${inner.pred})`, leaves: inner.leaves };
  }
  if ("condition" in node) {
    const target = shared?.[node.condition];
    if (!target) return refuse(`unknown condition reference ${node.condition}`);
    return compileNode(b, target, shared, depth + 1);
  }
  const leaf = leafPredicate(b, node as FactCondition);
  return isRefused(leaf) ? leaf : { pred: leaf.pred, leaves: [leaf] };
}
