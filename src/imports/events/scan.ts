import type { Readable } from "node:stream";
import type { ImportSpec } from "../types.ts";
import { CellError } from "../values.ts";
import type { EventSums, Spans, UserAccounts } from "./sums.ts";
import { type Instant, readInstant, writeTimestamp } from "./time.ts";

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
 * Reads an events CSV whose header is `columns` and yields it as data for
 * `COPY activity_events (SCANNED_COLUMNS) FROM STDIN WITH (FORMAT binary)`
 * (which Postgres reads in about three quarters of the time of the CSV, most
 * of the difference being its timestamp parsing): each row checked at the
 * byte level, its fields in COPY order, an empty user_id or module as null,
 * an empty count as 1 and an empty account_id as the user's account when
 * `accounts` has it, or else as '' (to be filled from the user). A row the
 * byte checks do not settle goes through the spec's own convert(); one it
 * refuses, and any quoted field, end the scan with NeedsExactImport, so a
 * file is only loaded here when the exact path would load the same values
 * without a problem. Each row is also added to `sums`.
 */
export async function* scanEvents(
  body: AsyncIterable<Buffer>,
  columns: readonly string[],
  spec: ImportSpec,
  result: ScanResult,
  onRows: (rows: number) => void,
  sums?: EventSums,
  accounts?: UserAccounts,
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
  const int32 = (v: number) => {
    out[o++] = v >>> 24;
    out[o++] = (v >>> 16) & 255;
    out[o++] = (v >>> 8) & 255;
    out[o++] = v & 255;
  };
  /** A text field of buf[from, to); null when empty and `emptyIsNull`. */
  const text = (buf: Uint8Array, from: number, to: number, emptyIsNull: boolean) => {
    if (from === to && emptyIsNull) {
      int32(-1);
      return;
    }
    int32(to - from);
    for (let i = from; i < to; i++) out[o++] = buf[i]!;
  };
  const instant: Instant = { seconds: 0, micros: 0 };
  /** The row's last two fields: occurred_at (read into `instant`) and count. */
  const occurredAndCount = (count: number) => {
    int32(8);
    o = writeTimestamp(instant, out, o);
    int32(4);
    int32(count);
  };
  // The byte range [from, to) of a column in the current line ([0, 0) when the file has no such column).
  const fromOf = (index: number) => (index < 0 ? 0 : starts[index]!);
  const toOf = (index: number) => (index < 0 ? 0 : starts[index + 1]! - 1);
  const textOk = (buf: Uint8Array, from: number, to: number) =>
    from === to || (!isSpace(buf[from]!) && !isSpace(buf[to - 1]!));
  /** user, account, activity and module ranges of the current line, for the sums. */
  const spans: Spans = new Int32Array(8);

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
    const occurred = Buffer.from(values[4]!, "latin1");
    readInstant(occurred, 0, occurred.length, instant);
    const count = Number(values[5]);
    sums?.addValues(values, instant.seconds);
    const [user, account, activity, module] = values.slice(0, 4).map((v) => Buffer.from(v ?? "", "utf8"));
    ensure(user!.length + account!.length + activity!.length + module!.length + 64);
    out[o++] = 0;
    out[o++] = 6;
    text(user!, 0, user!.length, true);
    text(account!, 0, account!.length, false);
    text(activity!, 0, activity!.length, false);
    text(module!, 0, module!.length, true);
    occurredAndCount(count);
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
    ensure(to - from + 64);
    if (plain) {
      const userFrom = fromOf(userAt);
      const userTo = toOf(userAt);
      const accountFrom = fromOf(accountAt);
      const accountTo = toOf(accountAt);
      const activityFrom = fromOf(activityAt);
      const activityTo = toOf(activityAt);
      const moduleFrom = fromOf(moduleAt);
      const moduleTo = toOf(moduleAt);
      const occurredFrom = fromOf(occurredAt);
      const occurredTo = toOf(occurredAt);
      const countFrom = fromOf(countAt);
      const countTo = toOf(countAt);
      const fast =
        textOk(buf, userFrom, userTo) &&
        textOk(buf, accountFrom, accountTo) &&
        textOk(buf, activityFrom, activityTo) &&
        textOk(buf, moduleFrom, moduleTo) &&
        activityTo > activityFrom &&
        (userTo > userFrom || accountTo > accountFrom) &&
        canonicalTimestamp(buf, occurredFrom, occurredTo) &&
        (countTo === countFrom || plainCount(buf, countFrom, countTo));
      if (fast) {
        // An empty account_id: the user's, when `accounts` has it.
        const filled =
          accountTo === accountFrom && userTo > userFrom && accounts
            ? accounts.of(buf, userFrom, userTo)
            : -1;
        if (accountTo === accountFrom && filled < 0) result.fillAccount = true;
        let n = 1;
        if (countTo > countFrom) {
          n = 0;
          for (let i = countFrom; i < countTo; i++) n = n * 10 + buf[i]! - 48;
        }
        readInstant(buf, occurredFrom, occurredTo, instant);
        out[o++] = 0;
        out[o++] = 6;
        text(buf, userFrom, userTo, true);
        const account = filled >= 0 ? accounts!.accountBytes(filled) : undefined;
        if (account) {
          ensure(account.length + 4);
          text(account, 0, account.length, false);
        } else text(buf, accountFrom, accountTo, false);
        text(buf, activityFrom, activityTo, false);
        text(buf, moduleFrom, moduleTo, true);
        occurredAndCount(n);
        if (sums) {
          spans[0] = userFrom;
          spans[1] = userTo;
          spans[2] = accountFrom;
          spans[3] = accountTo;
          spans[4] = activityFrom;
          spans[5] = activityTo;
          spans[6] = moduleFrom;
          spans[7] = moduleTo;
          sums.addSpans(buf, spans, instant.seconds, n, account);
        }
        return;
      }
    }
    exactRow(buf, from, to);
  };

  // The binary COPY header: signature, flags and header extension length (0).
  o = out.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  int32(0);
  int32(0);
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
  ensure(2);
  out[o++] = 255; // the trailer: a field count of -1
  out[o++] = 255;
  yield out.subarray(0, o);
  onRows(result.rows);
}

/**
 * Whether the first row of `first` (rows of a file with these columns) names
 * a user and leaves account_id empty, as files of users' events often do
 * throughout.
 */
export function firstRowLacksAccount(first: Buffer, columns: readonly string[]): boolean {
  const userAt = columns.indexOf("user_id");
  const accountAt = columns.indexOf("account_id");
  if (userAt < 0) return false;
  for (let from = 0; from < first.length; ) {
    let to = first.indexOf(NEWLINE, from);
    if (to < 0) to = first.length;
    const cells = first.toString("utf8", from, to).split(",");
    from = to + 1;
    if (cells.every((c) => c.trim() === "")) continue;
    return (cells[userAt] ?? "").trim() !== "" && (accountAt < 0 || (cells[accountAt] ?? "").trim() === "");
  }
  return false;
}

/**
 * Splits a stream's first line (the header) from the rest; undefined when the
 * first line is not a plain header. `first` is what was read past the header
 * (the file's first rows, unless its first read ended there).
 */
export async function splitHeader(
  stream: Readable,
): Promise<{ columns: string[]; first: Buffer; body: AsyncGenerator<Buffer> } | undefined> {
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
  return { columns, first: rest, body: body() };
}
