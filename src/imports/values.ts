import { CellError } from "../errors/index.ts";
import { attributesProblem, attributesSizeProblem, fieldSizeProblem } from "../limits.ts";

/*
 * Cell parsers for imports. Each takes a raw value from a CSV cell (string) or
 * an NDJSON field (any JSON value) that is known to be non-empty, and returns
 * the canonical text the staging table receives, or throws a CellError whose
 * message completes "column X ...".
 *
 * The staging load must never fail on a value that passed here: a value
 * Postgres would reject would abort the whole COPY without a file line number.
 */

export type Raw = string | number | boolean;

/** A value as JSON for a message, cut short: a 5 MB cell must not become a 5 MB message. */
export function shown(raw: unknown): string {
  const json = JSON.stringify(raw) ?? String(raw);
  return json.length > 80 ? `${json.slice(0, 60)}... (${json.length} characters)` : json;
}

/** A raw value as text; objects and arrays are refused. */
export function text(raw: Raw): string {
  const value = typeof raw === "string" ? raw : String(raw);
  if (value.includes("\0")) throw new CellError("contains a NUL character");
  return value;
}

/** "", whitespace, null and undefined mean "no value". */
export function isBlank(raw: unknown): boolean {
  return raw === null || raw === undefined || (typeof raw === "string" && raw.trim() === "");
}

export function cellText(raw: unknown): Raw {
  if (typeof raw === "string") return raw.trim();
  if (typeof raw === "number" || typeof raw === "boolean") return raw;
  throw new CellError(`must be a plain value, not ${Array.isArray(raw) ? "a list" : "an object"}`);
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function validDate(y: string, m: string, d: string): boolean {
  return validYmd(Number(y), Number(m), Number(d));
}

function validYmd(year: number, month: number, day: number): boolean {
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** The number written by `length` ASCII digits at `start`, or -1. */
function digitsAt(s: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * The common exact form, YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM),
 * checked without a regular expression or allocations: Postgres reads it as
 * it stands, so it is passed on unchanged. Anything else takes the general path.
 */
function isCanonicalTimestamp(s: string): boolean {
  const len = s.length;
  if (len < 20) return false;
  if (
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58
  ) {
    return false;
  }
  const h = digitsAt(s, 11, 2);
  const mi = digitsAt(s, 14, 2);
  const sec = digitsAt(s, 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
  if (!validYmd(digitsAt(s, 0, 4), digitsAt(s, 5, 2), digitsAt(s, 8, 2))) return false;
  let i = 19;
  if (s.charCodeAt(i) === 46) {
    const from = ++i;
    while (i < len && digitsAt(s, i, 1) >= 0) i++;
    if (i === from || i - from > 9) return false;
  }
  if (i === len - 1) return s.charCodeAt(i) === 90;
  if (i !== len - 6) return false;
  const sign = s.charCodeAt(i);
  if ((sign !== 43 && sign !== 45) || s.charCodeAt(i + 3) !== 58) return false;
  const oh = digitsAt(s, i + 1, 2);
  const om = digitsAt(s, i + 4, 2);
  return oh >= 0 && oh <= 14 && om >= 0 && om <= 59;
}

const TIMESTAMP_HINT = "an ISO-8601 timestamp such as 2024-03-01T09:30:00Z or 2024-03-01T09:30:00-05:00";

/**
 * An ISO-8601 instant. A timestamp without an offset, or a bare date, is read
 * as UTC. Returns text Postgres parses to the same instant whatever the
 * session time zone, because it always carries an explicit offset.
 */
export function timestamp(raw: Raw): string {
  if (typeof raw !== "string") throw new CellError(`must be ${TIMESTAMP_HINT}, not ${shown(raw)}`);
  if (isCanonicalTimestamp(raw)) return raw;
  const m = TIMESTAMP.exec(raw);
  if (!m) throw new CellError(`is not ${TIMESTAMP_HINT}: ${shown(raw)}`);
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", z, sign, oh, om = "00"] = m;
  const bad =
    !validDate(y!, mo!, d!) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59 ||
    (sign !== undefined && (Number(oh) > 14 || Number(om) > 59));
  if (bad) throw new CellError(`is not a valid date and time: ${shown(raw)}`);
  const offset = z || sign === undefined ? "+00:00" : `${sign}${oh}:${om}`;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${offset}`;
}

/** A calendar date, YYYY-MM-DD. */
export function date(raw: Raw): string {
  const m = typeof raw === "string" ? DATE.exec(raw) : null;
  if (!m || !validDate(m[1]!, m[2]!, m[3]!)) {
    throw new CellError(`is not a date in the form YYYY-MM-DD: ${shown(raw)}`);
  }
  return raw as string;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

export function numberBetween(raw: Raw, min: number, max: number): number {
  const value =
    typeof raw === "number" ? raw : typeof raw === "string" && DECIMAL.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value)) throw new CellError(`is not a number: ${shown(raw)}`);
  if (value < min || value > max) throw new CellError(`must be between ${min} and ${max}, not ${value}`);
  return value;
}

const INTEGER = /^\+?\d{1,10}$/;

/** A whole number from 1 to 2^31 - 1 (the column is an integer). */
export function positiveCount(raw: Raw): string {
  const value =
    typeof raw === "number" ? raw : typeof raw === "string" && INTEGER.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > 2147483647) {
    throw new CellError(`must be a whole number from 1 to 2147483647, not ${shown(raw)}`);
  }
  return String(value);
}

/** One of a fixed set of labels, case-insensitive; returns the lowercase label. */
export function oneOf<T extends string>(raw: Raw, allowed: readonly T[]): T {
  const value = typeof raw === "string" ? raw.toLowerCase() : "";
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CellError(`must be one of ${allowed.join(", ")} (or empty), not ${shown(raw)}`);
  }
  return value as T;
}

/** Reads a known column of the current row: its trimmed value, or undefined when blank or absent. */
export interface FieldGetter {
  get(column: string): Raw | undefined;
}

/** A known field of a row parsed with `parse`, or null when the row leaves it blank. */
export function optional<T>(known: FieldGetter, column: string, parse: (raw: Raw) => T): T | null {
  const raw = known.get(column);
  if (raw === undefined) return null;
  try {
    const value = parse(raw);
    if (typeof value === "string") {
      const tooLarge = fieldSizeProblem(column, value);
      if (tooLarge) throw new CellError(tooLarge);
    }
    return value;
  } catch (err) {
    if (err instanceof CellError) throw new CellError(`${column} ${err.message}`);
    throw err;
  }
}

/** Like optional(), but a blank value is an error. */
export function required<T>(known: FieldGetter, column: string, parse: (raw: Raw) => T): T {
  if (known.get(column) === undefined) throw new CellError(`${column} is empty; every row needs one`);
  return optional(known, column, parse) as T;
}

/** The attributes object as jsonb text, or null for none. */
export function attributesJson(attributes: Record<string, unknown> | undefined): string | null {
  if (!attributes) return null;
  // Before stringifying: JSON.stringify recurses, and a value nested 10,000 deep overflows the stack.
  const problem = attributesProblem(attributes);
  if (problem) throw new CellError(problem);
  const json = JSON.stringify(attributes);
  if (json.includes("\\u0000")) throw new CellError("an extra column contains a NUL character");
  const tooLarge = attributesSizeProblem(json);
  if (tooLarge) throw new CellError(tooLarge);
  return json;
}
