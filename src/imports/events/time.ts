/**
 * Instants of the canonical event timestamps, read from bytes as Postgres
 * reads them, for binary COPY data and for day sums.
 */

export const DAY_SECONDS = 86_400;

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** Postgres counts binary dates and timestamps from 2000-01-01. */
export const PG_EPOCH_DAY = daysFromCivil(2000, 1, 1);
const PG_EPOCH_SECONDS = PG_EPOCH_DAY * DAY_SECONDS;

function digits(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + buf[i]! - 48;
  return v;
}

/** Round half to even, as C's rint() in the default rounding mode. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** An instant: whole seconds since 1970 and the microseconds past them (0 to 999,999). */
export interface Instant {
  seconds: number;
  micros: number;
}

/**
 * Reads a timestamp already checked to be
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) into `into`. A fraction
 * finer than a microsecond is rounded as Postgres rounds it (strtod, then
 * rint of the microseconds), which may carry into the next second.
 */
export function readInstant(buf: Uint8Array, from: number, to: number, into: Instant): Instant {
  let i = from + 19;
  let micros = 0;
  if (buf[i] === 46) {
    const start = ++i;
    while (i < to && buf[i]! >= 48 && buf[i]! <= 57) i++;
    const n = i - start;
    if (n <= 6) micros = digits(buf, start, n) * 10 ** (6 - n);
    else micros = rint(Number(`0.${Buffer.from(buf.subarray(start, i)).toString("latin1")}`) * 1_000_000);
  }
  let offset = 0;
  if (buf[i] !== 90) {
    offset = (digits(buf, i + 1, 2) * 60 + digits(buf, i + 4, 2)) * 60;
    if (buf[i] === 45) offset = -offset;
  }
  const days = daysFromCivil(digits(buf, from, 4), digits(buf, from + 5, 2), digits(buf, from + 8, 2));
  into.seconds =
    days * DAY_SECONDS +
    digits(buf, from + 11, 2) * 3600 +
    digits(buf, from + 14, 2) * 60 +
    digits(buf, from + 17, 2) -
    offset;
  if (micros >= 1_000_000) {
    into.seconds += 1;
    micros -= 1_000_000;
  }
  into.micros = micros;
  return into;
}

/**
 * Writes an instant as a binary COPY timestamptz (microseconds since
 * 2000-01-01 as a big-endian int64) at out[o]; returns the new offset. The
 * microseconds of years 1 to 9999 exceed 2^53, so the two words are computed
 * from seconds * 15625 (exact below 2^53) times 64.
 */
export function writeTimestamp(instant: Instant, out: Uint8Array, o: number): number {
  const m = (instant.seconds - PG_EPOCH_SECONDS) * 15_625;
  let high = Math.floor(m / 67_108_864); // 2^26: m * 64 / 2^32
  let low = (m - high * 67_108_864) * 64 + instant.micros;
  if (low >= 4_294_967_296) {
    low -= 4_294_967_296;
    high += 1;
  }
  out[o++] = high >>> 24;
  out[o++] = (high >>> 16) & 255;
  out[o++] = (high >>> 8) & 255;
  out[o++] = high & 255;
  out[o++] = low >>> 24;
  out[o++] = (low >>> 16) & 255;
  out[o++] = (low >>> 8) & 255;
  out[o++] = low & 255;
  return o;
}
