/**
 * Words for facts and conditions, so that an explanation reads as a sentence
 * to a product-ops person ("at least 20 active days in the last 30") next to
 * the exact fact and value. Each fact module phrases its own value and
 * conditions on it (`words` in src/facts/<fact>.ts) with these helpers.
 */

type FactParams = Record<string, unknown>;

/** How a fact phrases its value and a condition on it. */
export interface FactWords {
  /** The entity's value in words: "active on 22 of the last 30 days". */
  value(value: unknown, params: FactParams, path?: string): string;
  /** A condition on the fact in words: "at least 20 active days in the last 30". */
  condition(operator: string, value: unknown, params: FactParams, path?: string): string;
}

/** A value as a person reads it: text bare, lists joined, everything else as JSON. */
export function show(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.length === 0 ? "none" : v.map(show).join(", ");
  return JSON.stringify(v);
}

/** "1 day", "3 days". */
export function count(n: unknown, singular: string, plural = `${singular}s`): string {
  return `${show(n)} ${n === 1 ? singular : plural}`;
}

/** The window of a fact with a `days` param: "in the last 30 days" (or "today" for one). */
export function windowWords(params: FactParams): string {
  return Number(params.days) === 1 ? "today" : `in the last ${show(params.days)} days`;
}

/** "today", "yesterday", "12 days ago" (and "in 3 days" for a day still ahead). */
export function daysAgo(n: number): string {
  if (n === 0) return "today";
  if (n === 1) return "yesterday";
  return n > 0 ? `${n} days ago` : `in ${count(-n, "day")}`;
}

/** "a or b", "a, b or c". */
export function either(values: unknown): string {
  const list = Array.isArray(values) ? values.map(show) : [show(values)];
  if (list.length <= 1) return list[0] ?? "nothing";
  return `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

/**
 * A comparison of a quantity: the operator and value as words ("at least 20",
 * "fewer than 3", "exactly 0", "one of 1 or 2"), and whether that number
 * reads as one (for "day" or "days").
 */
export function quantity(operator: string, value: unknown, measure = false): { words: string; one: boolean } {
  const v = show(value);
  const one = value === 1;
  switch (operator) {
    case "greaterThanInclusive":
      return { words: `at least ${v}`, one };
    case "greaterThan":
      return { words: `${measure ? "above" : "more than"} ${v}`, one: false };
    case "lessThanInclusive":
      return { words: `at most ${v}`, one };
    case "lessThan":
      return { words: `${measure ? "below" : "fewer than"} ${v}`, one: false };
    case "equal":
      return { words: value === 0 && !measure ? "no" : `exactly ${v}`, one };
    case "notEqual":
      return { words: value === null ? "any number of" : `not exactly ${v}`, one: false };
    case "in":
      return { words: either(value), one: Array.isArray(value) && value.length === 1 && value[0] === 1 };
    case "notIn":
      return { words: `neither ${either(value).replace(/ or /, " nor ")}`, one: false };
    default:
      return { words: `${operator} ${v}`, one: false };
  }
}

/**
 * A numeric fact's words from how it phrases a number: `phrase("at least 20",
 * false)` → "at least 20 active days in the last 30". The value phrasing is
 * the fact's own; a null value reads as `none`.
 */
export function numberWords(p: {
  phrase: (quantity: string, one: boolean, params: FactParams) => string;
  value: (n: number, params: FactParams) => string;
  /** The value null in words ("never active"), and its negation ("active at some time"). */
  none?: string;
  some?: string;
  /** A measure (a score) rather than a count: "below 40", not "fewer than 40". */
  measure?: boolean;
}): FactWords {
  const none = p.none ?? "no value";
  return {
    value: (value, params) => (typeof value === "number" ? p.value(value, params) : none),
    condition(operator, value, params) {
      if (value === null && (operator === "equal" || operator === "notEqual")) {
        return operator === "equal" ? none : (p.some ?? `not ${none}`);
      }
      const q = quantity(operator, value, p.measure);
      return p.phrase(q.words, q.one, params);
    },
  };
}

/**
 * A fact holding one label (contract status, health): "health is poor",
 * "contract status is trial or paying", "health is not poor".
 */
export function labelWords(label: string, none: string): FactWords {
  return {
    value: (value) => (value === null || value === undefined ? none : `${label} is ${show(value)}`),
    condition(operator, value) {
      if (value === null) return operator === "equal" ? none : `${label} is set`;
      switch (operator) {
        case "equal":
          return `${label} is ${show(value)}`;
        case "notEqual":
          return `${label} is not ${show(value)}`;
        case "in":
          return `${label} is ${either(value)}`;
        case "notIn":
          return `${label} is neither ${either(value).replace(/ or /, " nor ")}`;
        case "contains":
          return `${label} contains ${show(value)}`;
        case "doesNotContain":
          return `${label} does not contain ${show(value)}`;
        default: {
          const q = quantity(operator, value);
          return `${label} ${q.words}`;
        }
      }
    },
  };
}

/** The field a `path` such as `$.plan` or `$.attributes.tier` names: "plan", "attributes.tier". */
export function pathName(path: string | undefined): string {
  if (!path) return "";
  return path
    .replace(/^\$\.?/, "")
    .replace(/\[['"]?([^'"\]]+)['"]?\]/g, ".$1")
    .replace(/^\./, "");
}

/** An object fact tested through `path`: "attribute plan is enterprise". */
export function pathWords(owner: string): FactWords {
  const label = (path?: string) => `${owner} ${pathName(path) || "(whole)"}`.trim();
  return {
    value: (value, _params, path) =>
      value === null || value === undefined ? `no ${label(path)}` : `${label(path)} is ${show(value)}`,
    condition: (operator, value, params, path) =>
      labelWords(label(path), `no ${label(path)}`).condition(operator, value, params),
  };
}
