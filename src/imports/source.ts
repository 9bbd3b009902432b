import { isUtf8 } from "node:buffer";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { CsvError } from "csv-parse";
import { parse as parseCsv } from "csv-parse/sync";
import { InputError } from "../errors/index.ts";
import { loneSurrogateProblem, unstorableField } from "../storable-text.ts";

export type ImportFormat = "csv" | "ndjson";

/**
 * Where an import reads from: a file (format chosen by its extension), or a
 * stream with an explicit format and a name to use in messages.
 */
export type ImportSource =
  | string
  | { path: string }
  | { stream: Readable; format: ImportFormat; name: string; size?: number };

/** One data row and its physical line in the file (the CSV header is line 1). */
export interface SourceRow {
  line: number;
  /** CSV: the cells, as many as the header has. */
  values?: string[];
  /** NDJSON: the object on the line. */
  fields?: Record<string, unknown>;
  /** Why the row could not be read (a CSV row of the wrong width, an NDJSON line that is not an object). */
  problem?: string;
}

export interface OpenedSource {
  /** The name to show in messages (the path as given, or the stream's name). */
  name: string;
  format: ImportFormat;
  /** CSV: the header's column names, trimmed. NDJSON: undefined (each row names its fields). */
  columns: string[] | undefined;
  /** The rows in file order, a few thousand at a time. */
  rows: AsyncIterable<SourceRow[]>;
  bytesRead(): number;
  totalBytes: number | undefined;
  close(): void;
}

/** A record longer than this (a quote never closed, most likely) stops the import. */
const MAX_RECORD_BYTES = 64 << 20;

export function formatOf(file: string): ImportFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".ndjson" || ext === ".jsonl") return "ndjson";
  return undefined;
}

export async function openSource(source: ImportSource): Promise<OpenedSource> {
  let stream: Readable;
  let name: string;
  let format: ImportFormat;
  let totalBytes: number | undefined;
  let bytesRead: () => number;
  if (typeof source === "string" || "path" in source) {
    const file = typeof source === "string" ? source : source.path;
    name = file;
    const detected = formatOf(file);
    if (!detected) {
      throw new InputError(
        `${file}: unsupported file type "${path.extname(file) || "(none)"}"; imports read .csv or .ndjson files.`,
      );
    }
    format = detected;
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch (err) {
      throw new InputError(`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? err}).`, {
        cause: err,
      });
    }
    if (!stat.isFile()) throw new InputError(`${file}: not a file.`);
    totalBytes = stat.size;
    const fileStream = fs.createReadStream(file, { highWaterMark: 1 << 18 });
    stream = fileStream;
    bytesRead = () => fileStream.bytesRead;
  } else {
    ({ stream, name, format } = source);
    totalBytes = source.size;
    bytesRead = () => counter.bytes;
  }
  const counter = { bytes: 0 };
  const close = () => stream.destroy();
  if (format === "ndjson") {
    return {
      name,
      format,
      columns: undefined,
      rows: ndjsonRows(textPieces(stream, name, false, counter)),
      bytesRead,
      totalBytes,
      close,
    };
  }
  const { columns, rows } = await csvRows(textPieces(stream, name, true, counter), name);
  return { name, format, columns, rows, bytesRead, totalBytes, close };
}

/**
 * The text of a stream in pieces that end at a line break outside any quoted
 * field (so a CSV record never straddles two pieces), BOM removed. The cut is
 * found in the bytes: line breaks and quotes are single bytes in UTF-8 and
 * never occur inside a multi-byte character, so each piece decodes whole.
 */
async function* textPieces(
  stream: Readable,
  name: string,
  quoted: boolean,
  counter: { bytes: number },
): AsyncGenerator<string> {
  let pending: Buffer | undefined;
  let first = true;
  let linesBefore = 0;
  const decode = (bytes: Buffer): string => {
    // Decoding would store U+FFFD in place of bytes that are not UTF-8: a changed value. Refuse the file instead.
    if (!isUtf8(bytes)) throw notUtf8(name, bytes, linesBefore);
    linesBefore += countLineBreaks(bytes);
    const text = bytes.toString("utf8");
    if (!first) return text;
    first = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    counter.bytes += bytes.length;
    const buffer = pending ? Buffer.concat([pending, bytes]) : bytes;
    const cut = quoted ? safeCut(buffer) : buffer.lastIndexOf(10) + 1;
    if (cut <= 0) {
      if (buffer.length > MAX_RECORD_BYTES) {
        throw new InputError(
          `${name}: a single record is longer than ${MAX_RECORD_BYTES >> 20} MB; a quote is probably never closed.`,
        );
      }
      pending = buffer;
      continue;
    }
    yield decode(buffer.subarray(0, cut));
    pending = cut < buffer.length ? buffer.subarray(cut) : undefined;
  }
  if (pending) yield decode(pending);
}

function countLineBreaks(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/** The error for a piece that is not UTF-8, naming the first line (1-based, in the whole file) that is not. */
function notUtf8(name: string, bytes: Buffer, linesBefore: number): InputError {
  let line = linesBefore + 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(10, start);
    const text = bytes.subarray(start, end === -1 ? bytes.length : end);
    if (!isUtf8(text) || end === -1) break;
    line++;
    start = end + 1;
  }
  return new InputError(
    `${name}: line ${line} is not valid UTF-8 text; nothing was imported (save the file as UTF-8 and import it again)`,
    { code: "invalid_encoding", details: { line } },
  );
}

/**
 * The end of the last line of `bytes` that closes every quote opened before
 * it: RFC 4180 escapes a quote inside a quoted field by doubling it, so a line
 * break is outside quotes exactly when an even number of quotes precede it.
 */
function safeCut(bytes: Buffer): number {
  let q = bytes.indexOf(34);
  if (q === -1) return bytes.lastIndexOf(10) + 1;
  let quotes = 0;
  let safe = 0;
  for (let nl = bytes.indexOf(10); nl !== -1; nl = bytes.indexOf(10, nl + 1)) {
    while (q !== -1 && q < nl) {
      quotes++;
      q = bytes.indexOf(34, q + 1);
    }
    // Past the last quote the parity no longer changes.
    if (q === -1) return (quotes & 1) === 0 ? bytes.lastIndexOf(10) + 1 : safe;
    if ((quotes & 1) === 0) safe = nl + 1;
  }
  return safe;
}

/** True when `text` has a carriage return that does not start a CRLF (an old Mac line break). */
function hasLoneCarriageReturn(text: string): boolean {
  for (let cr = text.indexOf("\r"); cr !== -1; cr = text.indexOf("\r", cr + 1)) {
    if (text.charCodeAt(cr + 1) !== 10) return true;
  }
  return false;
}

/** Lines a CSV record spans beyond its first: line breaks inside quoted fields (CRLF counts once). */
function extraLines(record: string[]): number {
  let extra = 0;
  for (const field of record) {
    if (field.indexOf("\n") === -1 && field.indexOf("\r") === -1) continue;
    extra += field.match(/\r\n|\r|\n/g)?.length ?? 0;
  }
  return extra;
}

/**
 * Parses CSV text that ends at a record boundary; `firstLine` is the physical
 * line it starts on. Text with quotes (or unusual line breaks) goes through
 * csv-parse; a piece without any quote has no quoting to interpret, so its
 * records are its lines split at commas, which is what csv-parse returns for
 * them too. Blank lines are left out.
 */
function parseCsvPiece(
  text: string,
  firstLine: number,
  name: string,
): { records: SourceRow[]; nextLine: number } {
  const out: SourceRow[] = [];
  if (text.indexOf('"') === -1 && !hasLoneCarriageReturn(text)) {
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      if (line.trim() === "") continue;
      out.push({ line: firstLine + i, values: line.split(",") });
    }
    return { records: out, nextLine: firstLine + lines.length };
  }
  let records: string[][];
  try {
    records = parseCsv(text, { relax_column_count: true }) as string[][];
  } catch (err) {
    if (err instanceof CsvError) {
      const at = (err as CsvError & { lines?: number }).lines;
      const line = at ? firstLine + at - 1 : undefined;
      throw new InputError(
        `${name}${line ? ` line ${line}` : ""}: the file is not valid CSV (${err.message.replace(/ at line \d+/, "")}). Nothing was imported; fix the quoting and import it again.`,
        { cause: err },
      );
    }
    throw err;
  }
  // csv-parse reports where a record ends (and counts a CRLF inside a quoted
  // field twice), so lines are counted here from the records themselves.
  let line = firstLine;
  for (const record of records) {
    const start = line;
    line = start + 1 + extraLines(record);
    if (record.length === 1 && record[0]!.trim() === "") continue;
    out.push({ line: start, values: record });
  }
  return { records: out, nextLine: line };
}

async function csvRows(
  pieces: AsyncGenerator<string>,
  name: string,
): Promise<{ columns: string[] | undefined; rows: AsyncGenerator<SourceRow[]> }> {
  let nextLine = 1;
  const parsed = async (): Promise<SourceRow[] | undefined> => {
    const step = await pieces.next();
    if (step.done) return undefined;
    const { records, nextLine: after } = parseCsvPiece(step.value, nextLine, name);
    nextLine = after;
    return records;
  };
  // The header is the first non-blank record.
  let pending: SourceRow[] = [];
  while (pending.length === 0) {
    const batch = await parsed();
    if (!batch) return { columns: undefined, rows: (async function* () {})() };
    pending = batch;
  }
  const columns = pending.shift()!.values!.map((c) => c.trim());
  const width = columns.length;
  const toRows = (batch: SourceRow[]): SourceRow[] => {
    for (const row of batch) {
      const n = row.values!.length;
      if (n === width) continue;
      row.values = undefined;
      row.problem = `has ${n} field${n === 1 ? "" : "s"} but the header has ${width}`;
    }
    return batch;
  };
  async function* rows(): AsyncGenerator<SourceRow[]> {
    if (pending.length > 0) yield toRows(pending);
    for (;;) {
      const batch = await parsed();
      if (!batch) return;
      yield toRows(batch);
    }
  }
  return { columns, rows: rows() };
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

async function* ndjsonRows(pieces: AsyncGenerator<string>): AsyncGenerator<SourceRow[]> {
  let nextLine = 1;
  for await (const piece of pieces) {
    const lines = piece.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const batch: SourceRow[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = nextLine + i;
      const text = lines[i]!;
      if (text.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        batch.push({ line, problem: `is not valid JSON (${(err as Error).message})` });
        continue;
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        batch.push({ line, problem: "is not a JSON object" });
        continue;
      }
      // JSON may spell half of a surrogate pair (`"\ud800"`): Postgres refuses it in jsonb, and text would hold U+FFFD.
      const unpaired = SURROGATE_ESCAPE.test(text)
        ? unstorableField(value, "", loneSurrogateProblem)
        : undefined;
      if (unpaired !== undefined) {
        batch.push({
          line,
          problem: `has an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape) in ${unpaired.field}`,
        });
        continue;
      }
      batch.push({ line, fields: value as Record<string, unknown> });
    }
    nextLine += lines.length;
    yield batch;
  }
}
