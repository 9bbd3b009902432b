import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import type { Readable } from "node:stream";
import { CsvError, parse } from "csv-parse";
import { InputError } from "../errors/index.ts";

export type ImportFormat = "csv" | "ndjson";

/**
 * Where an import reads from: a file (format chosen by its extension), or a
 * stream with an explicit format and a name to use in messages.
 */
export type ImportSource =
  | string
  | { path: string }
  | { stream: Readable; format: ImportFormat; name: string; size?: number };

/** One data row: its physical line in the file (the CSV header is line 1) and its fields by name. */
export interface SourceRow {
  line: number;
  /** Field values by column name (CSV: the trimmed header cell); undefined when the row could not be read. */
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
  rows: AsyncIterable<SourceRow>;
  bytesRead(): number;
  totalBytes: number | undefined;
  close(): void;
}

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
    let count = 0;
    stream.on("data", (chunk: Buffer | string) => {
      count += chunk.length;
    });
    bytesRead = () => count;
  }
  const close = () => stream.destroy();
  if (format === "ndjson") {
    return { name, format, columns: undefined, rows: ndjsonRows(stream), bytesRead, totalBytes, close };
  }
  const { columns, rows } = await csvRows(stream, name);
  return { name, format, columns, rows, bytesRead, totalBytes, close };
}

async function* ndjsonRows(stream: Readable): AsyncGenerator<SourceRow> {
  stream.setEncoding("utf8");
  const lines = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (let text of lines) {
    line++;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield { line, problem: `is not valid JSON (${(err as Error).message})` };
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      yield { line, problem: "is not a JSON object" };
      continue;
    }
    yield { line, fields: value as Record<string, unknown> };
  }
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

async function csvRows(
  stream: Readable,
  name: string,
): Promise<{ columns: string[] | undefined; rows: AsyncGenerator<SourceRow> }> {
  const parser = stream.pipe(parse({ bom: true, relax_column_count: true }));
  stream.on("error", (err) => parser.destroy(err));
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  // csv-parse reports the line where a record ends (and counts a CRLF inside a
  // quoted field twice), so lines are counted here from the records themselves.
  let next = 1;
  const read = async (): Promise<{ record: string[]; line: number } | undefined> => {
    for (;;) {
      let step: IteratorResult<string[]>;
      try {
        step = await records.next();
      } catch (err) {
        if (err instanceof CsvError) {
          const at = (err as CsvError & { lines?: number }).lines;
          throw new InputError(
            `${name}${at ? ` line ${at}` : ""}: the file is not valid CSV (${err.message}). Nothing was imported; fix the quoting and import it again.`,
            { cause: err },
          );
        }
        throw err;
      }
      if (step.done) return undefined;
      const record = step.value;
      const line = next;
      next = line + 1 + extraLines(record);
      if (record.length === 1 && record[0]!.trim() === "") continue;
      return { record, line };
    }
  };
  const header = await read();
  const columns = header?.record.map((c) => c.trim());
  async function* rows(): AsyncGenerator<SourceRow> {
    if (!columns) return;
    const width = columns.length;
    for (;;) {
      const item = await read();
      if (!item) return;
      const { record, line } = item;
      if (record.length !== width) {
        yield {
          line,
          problem: `has ${record.length} field${record.length === 1 ? "" : "s"} but the header has ${width}`,
        };
        continue;
      }
      const fields: Record<string, unknown> = {};
      for (let i = 0; i < width; i++) fields[columns[i]!] = record[i];
      yield { line, fields };
    }
  }
  return { columns, rows: rows() };
}
