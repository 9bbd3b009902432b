import { type SQL, sql } from "drizzle-orm";
import type { FactValueType, OperatorName } from "../facts/catalog.ts";

/**
 * A fact condition's operator as SQL: a boolean expression, never NULL, that
 * holds where json-rules-engine with signaltag's operators (runs/evaluate.ts)
 * finds the condition true. An operator with no SQL form says why instead.
 */

/** Why a part of a rule has no SQL form: the rule then runs on json-rules-engine. */
export interface Refused {
  refused: string;
}

export const refuse = (reason: string): Refused => ({ refused: reason });

export function isRefused(x: object): x is Refused {
  return "refused" in x;
}

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isScalar = (v: unknown) => typeof v === "string" || typeof v === "boolean" || isNumber(v);
const numericOps: Partial<Record<OperatorName, string>> = {
  lessThan: "<",
  lessThanInclusive: "<=",
  greaterThan: ">",
  greaterThanInclusive: ">=",
};

function typed(kind: string, x: unknown): SQL {
  return kind === "number" ? sql`${x}::float8` : sql`${x}::text`;
}

/** `f op x` for a fact value `f` of a type other than object. */
export function valuePredicate(f: SQL, kind: FactValueType, op: OperatorName, x: unknown): SQL | Refused {
  const sameType = (v: unknown) => (kind === "number" ? isNumber(v) : typeof v === "string");
  switch (op) {
    case "equal":
      if (x === null) return kind === "stringArray" ? sql`false` : sql`(${f} is null)`;
      if (kind === "stringArray" || !sameType(x)) return sql`false`;
      return sql`coalesce(${f} = ${typed(kind, x)}, false)`;
    case "notEqual":
      if (kind === "stringArray") return sql`true`;
      if (x === null || !sameType(x)) return sql`(${f} is not null)`;
      return sql`coalesce(${f} <> ${typed(kind, x)}, false)`;
    case "in":
    case "notIn": {
      if (!Array.isArray(x)) return sql`false`;
      if (kind === "stringArray") return op === "in" ? sql`false` : sql`true`;
      const list = JSON.stringify(x.filter(sameType));
      const member = sql`(${list}::jsonb @> to_jsonb(${f}))`;
      return op === "in" ? sql`coalesce(${member}, false)` : sql`(${f} is not null and not ${member})`;
    }
    case "contains":
    case "doesNotContain": {
      if (kind !== "stringArray") return sql`false`;
      if (typeof x !== "string") return op === "contains" ? sql`false` : sql`true`;
      const member = sql`(${x}::text = any(${f}))`;
      return op === "contains" ? member : sql`(not ${member})`;
    }
    default: {
      const cmp = numericOps[op];
      if (!cmp) return refuse(`operator ${op}`);
      if (!isNumber(x)) return refuse(`${op} with a value that is not a number`);
      if (kind !== "number") return sql`false`;
      return sql`coalesce(${f} ${sql.raw(cmp)} ${x}::float8, false)`;
    }
  }
}

/** Comparisons of a JSON value reached by a path, as json-rules-engine's strict equality sees them. */
export function jsonbPredicate(v: SQL, op: OperatorName, x: unknown): SQL | Refused {
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
      if (!cmp) return refuse(`operator ${op}`);
      if (!isNumber(x)) return refuse(`${op} with a value that is not a number`);
      return sql`(coalesce(jsonb_typeof(${v}) = 'number', false) and (${v})::float8 ${sql.raw(cmp)} ${x}::float8)`;
    }
  }
}
