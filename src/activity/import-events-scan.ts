import type { Readable } from "node:stream";
import type { EventSums } from "./import-events-sums.ts";
import type { ImportSpec } from "./import-types.ts";
import { CellError } from "./import-values.ts";

/**
 * Thrown when a file needs the exact import path: a quoted field, a bad row,
 * anything whose meaning this scanner does not reproduce byte for byte.
 */
export class NeedsExactImport extends Error {}

/** The columns of the COPY the scanner writes, in this order. */
export const SCANNED_COLUMNS = [
  "user_id",
  "account_id",
  "activity",
  "module",
  "occurred_at",
  "count",
] as const;

const COMMA = 44;
const NEWLINE = 10;
const RETURN = 13;
const QUOTE = 34;

function isSpace(b: number): boolean {
  return b === 32 || (b >= 9 && b <= 13);
}

/** Two ASCII digits at `i` as a number, or -1. */
function two(buf: Uint8Array, i: number): number {
  const a = buf[i]! - 48;
  const b = buf[i + 1]! - 48;
  return a < 0 || a > 9 || b < 0 || b > 9 ? -1 : a * 10 + b;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) in buf[start, end): the
 * form the exact path passes on unchanged (import-values timestamp()).
 */
function canonicalTimestamp(buf: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  if (len < 20) return false;
  const s = start;
  if (
    buf[s + 4] !== 45 ||
    buf[s + 7] !== 45 ||
    buf[s + 10] !== 84 ||
    buf[s + 13] !== 58 ||
    buf[s + 16] !== 58
  ) {
    return false;
  }
  const hi = two(buf, s);
  const lo = two(buf, s + 2);
  const month = two(buf, s + 5);
  const day = two(buf, s + 8);
  const h = two(buf, s + 11);
  const mi = two(buf, s + 14);
  const sec = two(buf, s + 17);
  if (hi < 0 || lo < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
  const year = hi * 100 + lo;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false;
  let i = s + 19;
  if (buf[i] === 46) {
    const from = ++i;
    while (i < end && buf[i]! >= 48 && buf[i]! <= 57) i++;
    if (i === from || i - from > 9) return false;
  }
  if (i === end - 1) return buf[i] === 90;
  if (i !== end - 6) return false;
  const sign = buf[i];
  if ((sign !== 43 && sign !== 45) || buf[i + 3] !== 58) return false;
  const oh = two(buf, i + 1);
  const om = two(buf, i + 4);
  return oh >= 0 && oh <= 14 && om >= 0 && om <= 59;
}

/** 1 to 999999999 written plainly: what positiveCount() passes on with the same value. */
function plainCount(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start > 9 || buf[start] === 48) return false;
  for (let i = start; i < end; i++) if (buf[i]! < 48 || buf[i]! > 57) return false;
  return true;
}

export interface ScanResult {
  /** Data rows (blank lines are not rows, as on the exact path). */
  rows: number;
  /** Some row names a user but leaves account_id empty. */
  fillAccount: boolean;
}

/**
 * Reads an events CSV whose header is `columns` and yields it as CSV for
 * `COPY activity_events (SCANNED_COLUMNS) ... FORCE_NOT_NULL (account_id)`:
 * each row checked at the byte level, its fields in COPY order, an empty
 * count written as 1 and an empty account_id left empty (to be filled from
 * the user). A row the byte checks do not settle goes through the spec's own
 * convert(); one it refuses, and any quoted field, end the scan with
 * NeedsExactImport, so a file is only loaded here when the exact path would
 * load the same values without a problem. Each row is also added to `sums`.
 */
export async function* scanEvents(
  body: AsyncIterable<Buffer>,
  columns: readonly string[],
  spec: ImportSpec,
  result: ScanResult,
  onRows: (rows: number) => void,
  sums?: EventSums,
): AsyncGenerator<Buffer> {
  const width = columns.length;
  const at = SCANNED_COLUMNS.map((c) => columns.indexOf(c));
  const [userAt, accountAt, activityAt, moduleAt, occurredAt, countAt] = at as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const starts = new Int32Array(width + 1);
  let out = Buffer.allocUnsafe(1 << 20);
  let o = 0;
  const ensure = (n: number) => {
    if (o + n <= out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, o + n));
    out.copy(bigger, 0, 0, o);
    out = bigger;
  };
  const put = (buf: Uint8Array, from: number, to: number) => {
    for (let i = from; i < to; i++) out[o++] = buf[i]!;
  };
  const field = (index: number): [number, number] =>
    index < 0 ? [0, 0] : [starts[index]!, starts[index + 1]! - 1];
  const textOk = (buf: Uint8Array, [from, to]: [number, number]) =>
    from === to || (!isSpace(buf[from]!) && !isSpace(buf[to - 1]!));

  /** A row the byte checks cannot settle, converted as the exact path would. */
  const exactRow = (buf: Buffer, from: number, to: number) => {
    const cells = buf.toString("utf8", from, to).split(",");
    const known = {
      get(column: string) {
        const i = columns.indexOf(column);
        if (i < 0) return undefined;
        const value = cells[i]!.trim();
        return value === "" ? undefined : value;
      },
    };
    let values: (string | null)[];
    try {
      values = spec.convert({ known, attributes: undefined }, new Set());
    } catch (err) {
      if (err instanceof CellError) throw new NeedsExactImport(err.message);
      throw err;
    }
    // [user_id, account_id, activity, module, occurred_at, count, event_id]
    if (values[1] === null) result.fillAccount = true;
    sums?.addValues(values);
    const text = `${values
      .slice(0, 6)
      .map((v) => v ?? "")
      .join(",")}\n`;
    ensure(Buffer.byteLength(text) + 1);
    o += out.write(text, o);
  };

  const line = (buf: Buffer, from: number, to: number) => {
    if (to > from && buf[to - 1] === RETURN) to--;
    let n = 0;
    let blank = true;
    let plain = true;
    starts[0] = from;
    for (let i = from; i < to; i++) {
      const b = buf[i]!;
      if (b === COMMA) {
        if (++n < width) starts[n] = i + 1;
        blank = false;
      } else if (b === QUOTE || b === RETURN) {
        throw new NeedsExactImport("quoted fields or carriage returns inside a line");
      } else if (b >= 0x80 || b === 0) {
        plain = false;
        blank = false;
      } else if (blank && !isSpace(b)) blank = false;
    }
    if (blank) return;
    result.rows++;
    if (n !== width - 1) throw new NeedsExactImport("a row of the wrong width");
    starts[width] = to + 1;
    ensure(to - from + 16);
    if (plain) {
      const user = field(userAt);
      const account = field(accountAt);
      const activity = field(activityAt);
      const module = field(moduleAt);
      const occurred = field(occurredAt);
      const count = field(countAt);
      const fast =
        textOk(buf, user) &&
        textOk(buf, account) &&
        textOk(buf, activity) &&
        textOk(buf, module) &&
        activity[1] > activity[0] &&
        (user[1] > user[0] || account[1] > account[0]) &&
        canonicalTimestamp(buf, occurred[0], occurred[1]) &&
        (count[1] === count[0] || plainCount(buf, count[0], count[1]));
      if (fast) {
        if (account[1] === account[0]) result.fillAccount = true;
        put(buf, user[0], user[1]);
        out[o++] = COMMA;
        put(buf, account[0], account[1]);
        out[o++] = COMMA;
        put(buf, activity[0], activity[1]);
        out[o++] = COMMA;
        put(buf, module[0], module[1]);
        out[o++] = COMMA;
        put(buf, occurred[0], occurred[1]);
        out[o++] = COMMA;
        if (count[1] === count[0]) out[o++] = 49;
        else put(buf, count[0], count[1]);
        out[o++] = NEWLINE;
        if (sums) {
          let n = 1;
          if (count[1] > count[0]) {
            n = 0;
            for (let i = count[0]; i < count[1]; i++) n = n * 10 + buf[i]! - 48;
          }
          sums.addSpans(buf, user, account, activity, module, occurred, n);
        }
        return;
      }
    }
    exactRow(buf, from, to);
  };

  let pending: Buffer | undefined;
  for await (const chunk of body) {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const last = buf.lastIndexOf(NEWLINE);
    if (last < 0) {
      pending = buf;
      continue;
    }
    let from = 0;
    for (let nl = buf.indexOf(NEWLINE); nl !== -1 && nl <= last; nl = buf.indexOf(NEWLINE, from)) {
      line(buf, from, nl);
      from = nl + 1;
    }
    pending = from < buf.length ? buf.subarray(from) : undefined;
    if (o > 0) {
      yield out.subarray(0, o);
      out = Buffer.allocUnsafe(out.length);
      o = 0;
    }
    onRows(result.rows);
  }
  if (pending) line(pending, 0, pending.length);
  if (o > 0) yield out.subarray(0, o);
  onRows(result.rows);
}

/** Splits a stream's first line (the header) from the rest; undefined when the first line is not a plain header. */
export async function splitHeader(
  stream: Readable,
): Promise<{ columns: string[]; body: AsyncGenerator<Buffer> } | undefined> {
  const iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let nl = -1;
  while (nl < 0) {
    const step = await iterator.next();
    if (step.done) return undefined;
    head = Buffer.concat([head, step.value]);
    nl = head.indexOf(NEWLINE);
    if (nl < 0 && head.length > 1 << 16) return undefined;
  }
  let start = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) start = 3;
  let end = nl;
  if (end > start && head[end - 1] === RETURN) end--;
  const text = head.toString("utf8", start, end);
  if (text.includes('"') || text.includes("\r") || text.trim() === "") return undefined;
  const columns = text.split(",").map((c) => c.trim());
  const rest = head.subarray(nl + 1);
  async function* body(): AsyncGenerator<Buffer> {
    if (rest.length > 0) yield rest;
    for (;;) {
      const step = await iterator.next();
      if (step.done) return;
      yield step.value;
    }
  }
  return { columns, body: body() };
}
