import type { Readable } from "node:stream";

const NEWLINE = 10;
const RETURN = 13;

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
