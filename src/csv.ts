/**
 * The one CSV field writer of every export (assignments, segments, dry-run
 * diffs): RFC 4180 quoting, and values a spreadsheet would run as a formula
 * (starting with =, +, -, @, tab or carriage return) neutralised the OWASP
 * way, with a leading single quote inside a quoted field. Plain numbers such
 * as -5 are left as they are: a spreadsheet reads them as numbers, not formulas.
 */
export function csvField(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  if (typeof value === "string" && FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) {
    return `"'${text.replace(/"/g, '""')}"`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (with its newline) from the fields in order. */
export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvField).join(",")}\n`;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?\d+(\.\d+)?$/;
