import { isUtf8 } from "node:buffer";
import { CellError } from "../../errors/index.ts";
import { MAX_ACTIVITY_BYTES, MAX_ID_BYTES } from "../../limits.ts";
import { SCANNED_COLUMNS } from "../sql/events-direct.ts";
import type { FallbackReason, ImportFallback, ImportSpec } from "../types.ts";
import { canonicalTimestamp, isSpace, plainCount } from "./byte-checks.ts";
import type { EventSums, Spans } from "./sums.ts";
import { type Instant, readInstant, writeTimestamp } from "./time.ts";
import type { UserAccounts } from "./user-accounts.ts";

const COMMA = 44;
const NEWLINE = 10;
const RETURN = 13;
const QUOTE = 34;

export interface ScanResult {
  /** Data rows (blank lines are not rows, as on the exact path). */
  rows: number;
  /** Some row names a user but leaves account_id empty. */
  fillAccount: boolean;
  /**
   * Set when the file needs the exact path: a quoted field, a bad row,
   * anything whose meaning this scanner does not reproduce byte for byte.
   * The scan then ends its data early, at a row boundary.
   */
  fallback?: ImportFallback;
}

/**
 * Reads an events CSV whose header is `columns` and yields it as binary data
 * for COPY_EVENTS (sql/events-direct.ts), which spares Postgres most of its
 * parsing, of timestamps above all: each row checked at the byte level, its
 * fields in COPY order, an empty user_id or module as null, an empty count
 * as 1 and an empty account_id as the user's account when
 * `accounts` has it, or else as '' (to be filled from the user). A row the
 * byte checks do not settle goes through the spec's own convert(); one it
 * refuses, and any quoted field, end the scan with `result.fallback` set, so
 * a file is only loaded here when the exact path would load the same values
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
  /** Ends the scan: the file needs the exact path. Returns false, for line() to return. */
  const stop = (reason: FallbackReason, detail: string) => {
    result.fallback = { reason, detail };
    return false;
  };

  /** A row the byte checks cannot settle, converted as the exact path would; false when it refuses the row. */
  const exactRow = (buf: Buffer, from: number, to: number): boolean => {
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
      if (err instanceof CellError) return stop("bad row", err.message);
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
    return true;
  };

  /** Checks and writes one line; false when the scan must end (see stop()). */
  const line = (buf: Buffer, from: number, to: number): boolean => {
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
        return stop("quoted field", "quoted fields or carriage returns inside a line");
      } else if (b >= 0x80 || b === 0) {
        plain = false;
        blank = false;
      } else if (blank && !isSpace(b)) blank = false;
    }
    if (blank) return true;
    result.rows++;
    if (n !== width - 1) return stop("bad row", "a row of the wrong width");
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
        // Longer fields go through convert(), which refuses those past their limit (limits.ts).
        userTo - userFrom <= MAX_ID_BYTES &&
        accountTo - accountFrom <= MAX_ID_BYTES &&
        activityTo - activityFrom <= MAX_ACTIVITY_BYTES &&
        moduleTo - moduleFrom <= MAX_ACTIVITY_BYTES &&
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
        return true;
      }
    }
    return exactRow(buf, from, to);
  };

  // The binary COPY header: signature, flags and header extension length (0).
  o = out.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  int32(0);
  int32(0);
  let pending: Buffer | undefined;
  scan: for await (const chunk of body) {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const last = buf.lastIndexOf(NEWLINE);
    if (last < 0) {
      pending = buf;
      continue;
    }
    // Whole lines: a line break never occurs inside a multi-byte character. Bytes that are not UTF-8 would be
    // summed as replacement characters; the exact path refuses the file naming the line.
    if (!isUtf8(buf.subarray(0, last + 1))) {
      stop("not utf-8", "a line is not valid UTF-8 text");
      break;
    }
    let from = 0;
    for (let nl = buf.indexOf(NEWLINE); nl !== -1 && nl <= last; nl = buf.indexOf(NEWLINE, from)) {
      if (!line(buf, from, nl)) break scan;
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
  // After a stop the rows written so far end the data (whole: a refused row
  // is never written), and the import's transaction is rolled back.
  if (pending && !result.fallback) {
    if (isUtf8(pending)) line(pending, 0, pending.length);
    else stop("not utf-8", "a line is not valid UTF-8 text");
  }
  ensure(2);
  out[o++] = 255; // the trailer: a field count of -1
  out[o++] = 255;
  yield out.subarray(0, o);
  onRows(result.rows);
}
