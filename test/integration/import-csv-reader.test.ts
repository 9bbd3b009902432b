import { Readable } from "node:stream";
import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openSource, type SourceRow } from "../../src/imports/source.ts";

/*
 * The CSV reader splits quote-free stretches of a file at commas and hands
 * everything else to csv-parse. These properties hold it to csv-parse's
 * records and to the physical line numbers, however the file is chunked.
 * (No database involved; it lives with the import tests it serves.)
 */

interface Generated {
  text: string;
  header: string[];
  rows: { line: number; values: string[] }[];
  chunks: number[];
}

const field = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "a",
    "Acme, Inc.",
    'say "hi"',
    "two\nlines",
    "crlf\r\ninside",
    "é✓",
    ",",
    '"',
    '""',
  ),
  fc.string({ maxLength: 6 }),
);

const csvFile = fc
  .record({
    width: fc.integer({ min: 1, max: 4 }),
    records: fc.array(fc.array(field, { minLength: 4, maxLength: 4 }), { maxLength: 25 }),
    eol: fc.constantFrom("\n", "\r\n"),
    bom: fc.boolean(),
    trailingEol: fc.boolean(),
    blanks: fc.array(fc.boolean(), { minLength: 26, maxLength: 26 }),
    quoteAll: fc.boolean(),
    chunks: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
  })
  .map(({ width, records, eol, bom, trailingEol, blanks, quoteAll, chunks }): Generated => {
    const cell = (value: string) =>
      quoteAll || /[",\r\n]/.test(value) || value === "" ? `"${value.replaceAll('"', '""')}"` : value;
    const header = Array.from({ length: width }, (_, i) => `col${i}`);
    const lines: string[] = [header.join(",")];
    let line = 2;
    const rows: Generated["rows"] = [];
    records.forEach((record, i) => {
      if (blanks[i]) {
        lines.push("");
        line++;
      }
      const values = record.slice(0, width);
      const text = values.map(cell).join(",");
      if (!(values.length === 1 && values[0]!.trim() === "")) rows.push({ line, values });
      lines.push(text);
      line += 1 + values.reduce((n, v) => n + (v.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
    });
    const text = (bom ? "\ufeff" : "") + lines.join(eol) + (trailingEol ? eol : "");
    return { text, header, rows, chunks };
  });

async function read(text: string, chunkSizes: number[]) {
  const bytes = Buffer.from(text, "utf8");
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  const opened = await openSource({
    stream: Readable.from(chunks, { objectMode: false }),
    format: "csv",
    name: "test.csv",
  });
  const rows: SourceRow[] = [];
  for await (const batch of opened.rows) rows.push(...batch);
  return { columns: opened.columns, rows };
}

describe("the CSV reader of imports", () => {
  it("returns csv-parse's records with the physical line each starts on, however the file is chunked", async () => {
    await fc.assert(
      fc.asyncProperty(csvFile, async (file) => {
        const { columns, rows } = await read(file.text, file.chunks);
        expect(columns).toEqual(file.header);
        expect(rows).toEqual(file.rows);
        const reference = (parse(file.text, { bom: true, skip_empty_lines: true }) as string[][])
          .slice(1)
          .filter((r) => !(r.length === 1 && r[0]!.trim() === ""));
        expect(rows.map((r) => r.values)).toEqual(reference);
      }),
      { numRuns: 300 },
    );
  });

  it("reads a large quote-free file split at arbitrary points", async () => {
    const lines = ["id,name,provisioned_at"];
    for (let i = 0; i < 5000; i++) lines.push(`a-${i},Name ${i},2024-01-01T00:00:00Z`);
    const { rows } = await read(lines.join("\r\n"), [4096, 7, 65_536, 1]);
    expect(rows).toHaveLength(5000);
    expect(rows[4999]).toEqual({ line: 5001, values: ["a-4999", "Name 4999", "2024-01-01T00:00:00Z"] });
  });

  it("reports a row of the wrong width with its line", async () => {
    const { rows } = await read('a,b\n1,2\n"x\ny",2,3\n4,5\n', [3]);
    expect(rows).toEqual([
      { line: 2, values: ["1", "2"] },
      { line: 3, problem: "has 3 fields but the header has 2" },
      { line: 5, values: ["4", "5"] },
    ]);
  });
});
