/*
 * Checks of one CSV field's bytes that settle a value exactly as the exact
 * path's converters would (values.ts), without making a string of it.
 */

export function isSpace(b: number): boolean {
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
 * form the exact path passes on unchanged (values.ts timestamp()).
 */
export function canonicalTimestamp(buf: Uint8Array, start: number, end: number): boolean {
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
export function plainCount(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start > 9 || buf[start] === 48) return false;
  for (let i = start; i < end; i++) if (buf[i]! < 48 || buf[i]! > 57) return false;
  return true;
}
