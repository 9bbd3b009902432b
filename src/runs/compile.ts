import { type SQL, sql } from "drizzle-orm";
import { type EntityType, factCatalog, type OperatorName } from "../facts/catalog.ts";
import { factKey } from "../facts/compute.ts";
import { createdColumn, entityTable } from "../facts/sql/entities.ts";
import { parseJsonPath } from "../rules/json-path.ts";
import type { Condition, FactCondition, RuleDefinition, TopLevelCondition } from "../rules/types.ts";
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
   * found in its transaction: the statement then reads none (on 1M users
   * the empty join alone took about 0.18 s of every rule's evaluation).
   */
  noSuppressions?: boolean;
}

export type CompileResult = { ok: true; rule: CompiledRule } | { ok: false; reason: string };

class CannotCompile extends Error {}

/** A fact the statement computes, as one column of the inner select. */
interface FactColumn {
  key: string;
  alias: string;
  expr: SQL;
}

type Builder = {
  type: EntityType;
  ctx: CompileContext;
  columns: Map<string, FactColumn>;
  /** Aggregates over the rollups by window length, each a CTE joined to the entity. */
  windows: Map<number, Window>;
  activeUserWindows: Set<number>;
  /** Whether the entity's activity summary (active-day bitmap) is joined as `sm`. */
  summary: boolean;
  userCount: boolean;
  tags: boolean;
  account: boolean;
};

const ident = (s: string) => sql.raw(s);

function column(b: Builder, key: string, make: () => SQL): FactColumn {
  let col = b.columns.get(key);
  if (!col) {
    col = { key, alias: `f${b.columns.size}`, expr: make() };
    b.columns.set(key, col);
  }
  return col;
}

/**
 * The aggregates over one window of rollup rows, and the rows each of them
 * reads (`rows`: a condition on the row, or null for every row).
 */
interface Window {
  alias: string;
  parts: Map<string, SQL>;
  rows: (SQL | null)[];
}

function windowPart(b: Builder, days: number, name: string, expr: SQL, rows: SQL | null): SQL {
  let w = b.windows.get(days);
  if (!w) {
    w = { alias: `w${b.windows.size}`, parts: new Map(), rows: [] };
    b.windows.set(days, w);
  }
  if (!w.parts.has(name)) {
    w.parts.set(name, expr);
    w.rows.push(rows);
  }
  return sql`${ident(w.alias)}.${ident(name)}`;
}

/**
 * The window's rows that some part reads, when no part reads them all: the
 * others are left out before the aggregate (an entity with none left gets no
 * row, as an aggregate of no rows it would get a null, and both are read as 0
 * or none). A full run of a rule on one activity's events in 30 days, at 1M
 * users: 3.1-3.2 s against 4.4-5.0 s aggregating every row of the window.
 */
function windowRows(w: Window): SQL {
  if (w.rows.some((r) => r === null)) return sql``;
  return sql`and (${sql.join(w.rows as SQL[], sql` or `)})`;
}

function windowDays(leaf: FactCondition): number {
  const days = Number(leaf.params?.days);
  if (!Number.isInteger(days) || days < 1)
    throw new CannotCompile(`fact ${leaf.fact} needs an integer "days" param`);
  return days;
}

/**
 * Active days of a summary row in the window of `days` days ending on `today`
 * (a date expression):
 * the set bits of that slice of the bitmap (bit i is first_day + i). Null
 * without a summary row.
 */
export function activeDaysIn(summary: SQL, today: SQL, days: number | SQL): SQL {
  return sql`bit_count(substring(${summary}.days from (${today} - ${summary}.first_day) - ${days}::int + 2 for ${days}::int))::int`;
}

/** The last active day on or before `today` (a date expression), from a summary row; null when there is none. */
export function lastActiveDay(summary: SQL, today: SQL): SQL {
  return sql`(case when ${summary}.last_day <= ${today} then ${summary}.last_day
    else ${summary}.first_day - 1 + nullif(length(rtrim(substring(${summary}.days from 1
      for greatest(${today} - ${summary}.first_day + 1, 0))::text, '0')), 0) end)`;
}

/** The SQL expression of a fact (before any path), typed as the catalog says. */
function factColumn(b: Builder, leaf: FactCondition): FactColumn {
  const spec = factCatalog[leaf.fact];
  if (!spec) throw new CannotCompile(`unknown fact ${leaf.fact}`);
  if (!spec.targets.includes(b.type))
    throw new CannotCompile(`fact ${leaf.fact} does not apply to ${b.type}s`);
  const key = factKey(leaf.fact, leaf.params);
  const { today, timezone } = b.ctx;
  const createdCol = createdColumn(b.type, "e");
  return column(b, key, () => {
    switch (leaf.fact) {
      case "daysSinceCreated":
      case "daysSinceProvisioned":
        return sql`(${today}::date - (${createdCol} at time zone ${timezone})::date)`;
      case "activeDays": {
        b.summary = true;
        return sql`coalesce(${activeDaysIn(sql`sm`, sql`${today}::date`, windowDays(leaf))}, 0)`;
      }
      case "eventCount": {
        const days = windowDays(leaf);
        const activity = leaf.params?.activity;
        const module = leaf.params?.module;
        const filters: SQL[] = [];
        if (activity !== undefined && activity !== null && activity !== "")
          filters.push(sql`d.activity = ${String(activity)}`);
        if (module !== undefined && module !== null && module !== "")
          filters.push(sql`d.module = ${String(module)}`);
        const name = `ec_${b.windows.get(days)?.parts.size ?? 0}_${b.columns.size}`;
        const rows = filters.length === 0 ? null : sql`(${sql.join(filters, sql` and `)})`;
        const agg =
          rows === null ? sql`sum(d.count)::float8` : sql`(sum(d.count) filter (where ${rows}))::float8`;
        return sql`coalesce(${windowPart(b, days, name, agg, rows)}, 0)`;
      }
      case "modulesUsed": {
        const days = windowDays(leaf);
        const rows = sql`d.module <> ''`;
        const agg = sql`array_agg(distinct d.module order by d.module) filter (where ${rows})`;
        return sql`coalesce(${windowPart(b, days, "modules", agg, rows)}, '{}'::text[])`;
      }
      case "daysSinceLastActive":
        b.summary = true;
        return sql`(${today}::date - ${lastActiveDay(sql`sm`, sql`${today}::date`)})`;
      case "activeUsers": {
        const days = windowDays(leaf);
        b.activeUserWindows.add(days);
        return sql`coalesce(${ident(`au${days}`)}.n, 0)`;
      }
      case "userCount":
        b.userCount = true;
        return sql`coalesce(uc.n, 0)`;
      case "contractStatus":
        return sql`e.contract_status`;
      case "health":
        return sql`e.health`;
      case "healthScore":
        return sql`e.health_score::float8`;
      case "daysUntilRenewal":
        return sql`(e.renewal_date - ${today}::date)`;
      case "attributes":
        return sql`e.attributes`;
      case "account":
        b.account = true;
        return sql`acct.doc`;
      case "tags":
        b.tags = true;
        return sql`coalesce(tg.names, '{}'::text[])`;
      default:
        throw new CannotCompile(`fact ${leaf.fact} has no SQL form`);
    }
  });
}

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isScalar = (v: unknown) => typeof v === "string" || typeof v === "boolean" || isNumber(v);
const numericOps: Partial<Record<OperatorName, string>> = {
  lessThan: "<",
  lessThanInclusive: "<=",
  greaterThan: ">",
  greaterThanInclusive: ">=",
};

/** A leaf as a boolean SQL expression over the fact columns; never NULL. */
function leafPredicate(b: Builder, leaf: FactCondition): { pred: SQL; value: SQL } {
  const spec = factCatalog[leaf.fact]!;
  const col = factColumn(b, leaf);
  const f = sql`x.${ident(col.alias)}`;
  const op = leaf.operator;
  const x = leaf.value;
  if (x !== null && typeof x === "object" && !Array.isArray(x) && "fact" in x) {
    throw new CannotCompile("a value that refers to another fact");
  }
  if (spec.valueType === "object") {
    if (leaf.path === undefined) throw new CannotCompile(`fact ${leaf.fact} without a path`);
    const segments = parseJsonPath(leaf.path);
    if (!segments) throw new CannotCompile(`path ${leaf.path} is outside the simple subset`);
    const v = sql`(${f} #> array(select jsonb_array_elements_text(${JSON.stringify(segments.map(String))}::jsonb)))`;
    return { pred: jsonbPredicate(v, op, x), value: v };
  }
  if (leaf.path !== undefined) throw new CannotCompile(`a path on the non-object fact ${leaf.fact}`);
  const value = f;
  const kind = spec.valueType;
  const sameType = (v: unknown) => (kind === "number" ? isNumber(v) : typeof v === "string");
  switch (op) {
    case "equal":
      if (x === null) return { pred: kind === "stringArray" ? sql`false` : sql`(${f} is null)`, value };
      if (kind === "stringArray" || !sameType(x)) return { pred: sql`false`, value };
      return { pred: sql`coalesce(${f} = ${typed(kind, x)}, false)`, value };
    case "notEqual":
      if (kind === "stringArray") return { pred: sql`true`, value };
      if (x === null || !sameType(x)) return { pred: sql`(${f} is not null)`, value };
      return { pred: sql`coalesce(${f} <> ${typed(kind, x)}, false)`, value };
    case "in":
    case "notIn": {
      if (!Array.isArray(x)) return { pred: sql`false`, value };
      if (kind === "stringArray") return { pred: op === "in" ? sql`false` : sql`true`, value };
      const list = JSON.stringify(x.filter(sameType));
      const member = sql`(${list}::jsonb @> to_jsonb(${f}))`;
      return {
        pred: op === "in" ? sql`coalesce(${member}, false)` : sql`(${f} is not null and not ${member})`,
        value,
      };
    }
    case "contains":
    case "doesNotContain": {
      if (kind !== "stringArray") return { pred: sql`false`, value };
      if (typeof x !== "string") return { pred: op === "contains" ? sql`false` : sql`true`, value };
      const needle = leaf.fact === "tags" ? x.toLowerCase() : x;
      const member = sql`(${needle}::text = any(${f}))`;
      return { pred: op === "contains" ? member : sql`(not ${member})`, value };
    }
    default: {
      const cmp = numericOps[op];
      if (!cmp) throw new CannotCompile(`operator ${op}`);
      if (!isNumber(x)) throw new CannotCompile(`${op} with a value that is not a number`);
      if (kind !== "number") return { pred: sql`false`, value };
      return { pred: sql`coalesce(${f} ${ident(cmp)} ${x}::float8, false)`, value };
    }
  }
}

function typed(kind: string, x: unknown): SQL {
  return kind === "number" ? sql`${x}::float8` : sql`${x}::text`;
}

/** Comparisons of a JSON value reached by a path, as json-rules-engine's strict equality sees them. */
function jsonbPredicate(v: SQL, op: OperatorName, x: unknown): SQL {
  const isNull = sql`(${v} is null or ${v} = 'null'::jsonb)`;
  switch (op) {
    case "equal":
      if (x === null) return isNull;
      if (!isScalar(x)) return sql`false`;
      return sql`coalesce(${v} = ${JSON.stringify(x)}::jsonb, false)`;
    case "notEqual":
      if (x === null || !isScalar(x)) return sql`(not ${isNull})`;
      return sql`(not ${isNull} and ${v} <> ${JSON.stringify(x)}::jsonb)`;
    case "in":
    case "notIn": {
      if (!Array.isArray(x)) return sql`false`;
      const scalar = sql`(not ${isNull} and jsonb_typeof(${v}) not in ('array', 'object'))`;
      const member = sql`(${JSON.stringify(x.filter(isScalar))}::jsonb @> ${v})`;
      if (op === "in") return sql`(${scalar} and ${member})`;
      return sql`(not ${isNull} and not (${scalar} and ${member}))`;
    }
    case "contains":
    case "doesNotContain": {
      const isArray = sql`coalesce(jsonb_typeof(${v}) = 'array', false)`;
      if (!isScalar(x)) return op === "contains" ? sql`false` : isArray;
      const member = sql`(${v} @> ${JSON.stringify([x])}::jsonb)`;
      return op === "contains" ? sql`(${isArray} and ${member})` : sql`(${isArray} and not ${member})`;
    }
    default: {
      const cmp = numericOps[op];
      if (!cmp) throw new CannotCompile(`operator ${op}`);
      if (!isNumber(x)) throw new CannotCompile(`${op} with a value that is not a number`);
      return sql`(coalesce(jsonb_typeof(${v}) = 'number', false) and (${v})::float8 ${ident(cmp)} ${x}::float8)`;
    }
  }
}

interface Compiled {
  pred: SQL;
  /** Each leaf's fact value (jsonb) and outcome, in the order expandExplanation walks them. */
  leaves: { value: SQL; pred: SQL }[];
}

function compileNode(
  b: Builder,
  node: Condition | TopLevelCondition,
  shared: RuleDefinition["sharedConditions"],
  depth = 0,
): Compiled {
  if (depth > 64) throw new CannotCompile("conditions nested too deeply");
  if ("all" in node || "any" in node) {
    const kind = "all" in node ? "all" : "any";
    const children = ("all" in node ? node.all : (node as { any: Condition[] }).any).map((c) =>
      compileNode(b, c, shared, depth + 1),
    );
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
    return { pred: sql`(not ${inner.pred})`, leaves: inner.leaves };
  }
  if ("condition" in node) {
    const target = shared?.[node.condition];
    if (!target) throw new CannotCompile(`unknown condition reference ${node.condition}`);
    return compileNode(b, target, shared, depth + 1);
  }
  const leaf = node as FactCondition;
  const { pred, value } = leafPredicate(b, leaf);
  const factValue =
    factCatalog[leaf.fact]?.valueType === "object"
      ? sql`coalesce(${value}, 'null'::jsonb)`
      : sql`to_jsonb(${value})`;
  return { pred, leaves: [{ value: factValue, pred }] };
}

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

/** Compiles a rule, or says why it cannot be compiled. */
export function compileRule(def: RuleDefinition): CompileResult {
  try {
    // Compile once with a placeholder context to find out whether every part has a SQL form.
    build(
      def,
      { type: def.target, asOf: new Date(0), today: "1970-01-01", timezone: "UTC" },
      {
        source: "",
        tagId: null,
        ruleId: def.id,
      },
    );
  } catch (err) {
    if (err instanceof CannotCompile) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, rule: { evaluation: (ctx, claims) => build(def, ctx, claims) } };
}

function build(def: RuleDefinition, ctx: CompileContext, claims: ClaimsOf): SQL {
  const b: Builder = {
    type: def.target,
    ctx,
    columns: new Map(),
    windows: new Map(),
    activeUserWindows: new Set(),
    summary: false,
    userCount: false,
    tags: false,
    account: false,
  };
  const enter = compileNode(b, def.conditions, def.sharedConditions);
  const exit = def.exitConditions ? compileNode(b, def.exitConditions, def.sharedConditions) : undefined;
  const { today, asOf } = ctx;
  const t = asOf.toISOString();
  const type = def.target;
  const table = entityTable(type);
  const createdCol = createdColumn(type, "e");
  const tagId = claims.tagId ?? -1;
  // Applied to every part keyed by entity, not only to the entities: a partition then reads its own
  // slice of the rollups, the summary and the claims by their keys, not all of them to keep its share.
  const only = (id: SQL) => entityScope(id, ctx);

  const ctes: SQL[] = [];
  const joins: SQL[] = [];
  for (const [days, w] of b.windows) {
    const parts = [...w.parts].map(([name, expr]) => sql`${expr} as ${ident(name)}`);
    ctes.push(sql`${ident(w.alias)} as (
      select d.entity_id, ${sql.join(parts, sql`, `)}
      from activity_daily d
      where d.entity_type = ${type} and d.day > ${today}::date - ${days}::int and d.day <= ${today}::date
        ${windowRows(w)} ${only(sql`d.entity_id`)}
      group by d.entity_id)`);
    joins.push(sql`left join ${ident(w.alias)} on ${ident(w.alias)}.entity_id = e.id`);
  }
  if (b.summary) {
    joins.push(
      sql`left join activity_summary sm on sm.entity_type = ${type} and sm.entity_id = e.id ${only(sql`sm.entity_id`)}`,
    );
  }
  for (const days of b.activeUserWindows) {
    const alias = ident(`au${days}`);
    // A user active in the window has a summary whose span reaches into it and a set bit there.
    ctes.push(sql`${alias} as (
      select u.account_id, count(*)::int as n
      from activity_summary sm join users u on u.id = sm.entity_id
      where sm.entity_type = 'user' and sm.last_day > ${today}::date - ${days}::int
        and sm.first_day <= ${today}::date and u.created_at <= ${t}::timestamptz
        and ${activeDaysIn(sql`sm`, sql`${today}::date`, days)} > 0 ${only(sql`u.account_id`)}
      group by u.account_id)`);
    joins.push(sql`left join ${alias} on ${alias}.account_id = e.id`);
  }
  if (b.userCount) {
    ctes.push(
      sql`uc as (select account_id, count(*)::int as n from users where created_at <= ${t}::timestamptz
        ${only(sql`account_id`)} group by account_id)`,
    );
    joins.push(sql`left join uc on uc.account_id = e.id`);
  }
  if (b.tags) {
    ctes.push(sql`tg as (
      select c.entity_id, array_agg(distinct lower(tt.name)) as names
      from claims c join tags tt on tt.id = c.tag_id where c.entity_type = ${type} ${only(sql`c.entity_id`)}
      group by c.entity_id)`);
    joins.push(sql`left join tg on tg.entity_id = e.id`);
  }
  if (b.account) {
    joins.push(sql`left join lateral (
      select jsonb_build_object('id', a.id, 'name', a.name, 'contractStatus', a.contract_status,
        'health', a.health, 'healthScore', a.health_score, 'renewalDate', a.renewal_date,
        'provisionedAt', a.provisioned_at, 'attributes', a.attributes) as doc
      from accounts a where a.id = e.account_id) acct on true`);
  }
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

  const factCols = [...b.columns.values()].map((c) => sql`${c.expr} as ${ident(c.alias)}`);
  // The compact explanation (see CompactExplanation): the leaves' values and outcomes only.
  const leaves = [...enter.leaves, ...(exit?.leaves ?? [])];
  const array = (items: SQL[]) =>
    items.length === 0 ? sql`'[]'::jsonb` : sql`jsonb_build_array(${sql.join(items, sql`, `)})`;
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
