import { parse } from "csv-parse/sync";
import { normalizeTagName } from "../claims/tag-name.ts";
import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { fieldSizeProblem } from "../limits.ts";

/** What one cell of a tags file asks for: a claim from the file, every claim removed, or nothing. */
export type CellAction = "add" | "remove";

export interface LineProblem {
  /** Physical line in the file (the header is line 1). */
  line: number;
  column?: string;
  message: string;
}

export interface TagsFileRow {
  line: number;
  id: string;
  /** One entry per tag column, in the order of `tags`; undefined for a blank cell. */
  actions: (CellAction | undefined)[];
}

export interface ParsedTagsFile {
  entityType: EntityType;
  /** Tag names from the `tag##<name>` headers, trimmed, in column order. */
  tags: string[];
  /** Rows without problems. */
  rows: TagsFileRow[];
  /** Rows that cannot be applied (bad values, duplicate or missing ids), one entry per problem. */
  problems: LineProblem[];
  /** Data rows in the file, good or bad. */
  rowCount: number;
}

const TAG_PREFIX = "tag##";
const idColumns: Record<string, EntityType> = { account_id: "account", user_id: "user" };

function cellAction(raw: string): CellAction | undefined | null {
  const value = raw.trim().toLowerCase();
  if (value === "") return undefined;
  if (value === "yes" || value === "true") return "add";
  if (value === "no" || value === "false") return "remove";
  return null;
}

function invalidHeader(source: string, message: string): InputError {
  return new InputError(`${source}: ${message}`, { code: "invalid_file", details: { line: 1 } });
}

/**
 * Reads a Totango-style tags file (DESIGN section 6): an `account_id` or
 * `user_id` column, then one `tag##<name>` column per tag whose cells say
 * yes/true (add), no/false (remove every claim) or nothing (leave as is).
 * A header that cannot be understood refuses the file; row problems are
 * collected with their line numbers for the caller to report.
 */
export function parseTagsFile(text: string, source: string): ParsedTagsFile {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch (err) {
    throw new InputError(`${source}: not a readable CSV file: ${err instanceof Error ? err.message : err}`, {
      code: "invalid_file",
      cause: err,
    });
  }
  const header = records[0];
  if (!header)
    throw invalidHeader(source, "the file is empty; it needs a header line such as account_id,tag##vip");
  const columns = header.record.map((c) => c.trim());
  let idIndex = -1;
  let entityType: EntityType | undefined;
  const tagIndexes: number[] = [];
  const tags: string[] = [];
  const seen = new Map<string, string>();
  for (const [i, column] of columns.entries()) {
    const idType = idColumns[column.toLowerCase()];
    if (idType) {
      if (entityType) {
        throw invalidHeader(
          source,
          `the header has both ${columns[idIndex]} and ${column}; a tags file tags either accounts or users`,
        );
      }
      entityType = idType;
      idIndex = i;
      continue;
    }
    if (column.toLowerCase().startsWith(TAG_PREFIX)) {
      let name: string;
      try {
        name = normalizeTagName(
          column.slice(TAG_PREFIX.length),
          `column ${i + 1} (${JSON.stringify(column)})`,
        );
      } catch (err) {
        throw invalidHeader(source, (err as Error).message);
      }
      const again = seen.get(name.toLowerCase());
      if (again !== undefined) {
        throw invalidHeader(
          source,
          `tag ${JSON.stringify(name)} has two columns (${JSON.stringify(again)} and ${JSON.stringify(column)}); tags match case-insensitively, keep one`,
        );
      }
      seen.set(name.toLowerCase(), column);
      tagIndexes.push(i);
      tags.push(name);
      continue;
    }
    throw invalidHeader(
      source,
      `unknown column ${JSON.stringify(column)}: a tags file has an account_id or user_id column and tag##<name> columns`,
    );
  }
  if (!entityType) throw invalidHeader(source, "the header needs an account_id or a user_id column");
  if (tags.length === 0)
    throw invalidHeader(source, "the header has no tag##<name> column, so there is nothing to import");

  const rows: TagsFileRow[] = [];
  const problems: LineProblem[] = [];
  const firstLine = new Map<string, number>();
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    if (record.length !== columns.length) {
      problems.push({ line, message: `has ${record.length} fields; the header has ${columns.length}` });
      continue;
    }
    const id = (record[idIndex] ?? "").trim();
    if (id === "") {
      problems.push({ line, column: columns[idIndex], message: `${columns[idIndex]} is empty` });
      continue;
    }
    if (id.includes("\u0000")) {
      // Postgres cannot store it; refused here so the file is a line-numbered problem, not a failed query.
      problems.push({
        line,
        column: columns[idIndex],
        message: `${columns[idIndex]} contains a NUL character`,
      });
      continue;
    }
    // No stored id is longer; a longer one would fail the id table's index, not name its line.
    const tooLarge = fieldSizeProblem("id", id);
    if (tooLarge) {
      problems.push({ line, column: columns[idIndex], message: `${columns[idIndex]} ${tooLarge}` });
      continue;
    }
    const before = firstLine.get(id);
    if (before !== undefined) {
      problems.push({
        line,
        column: columns[idIndex],
        message: `duplicate id ${JSON.stringify(id)} (first on line ${before})`,
      });
      continue;
    }
    firstLine.set(id, line);
    let bad = false;
    const actions = tagIndexes.map((index) => {
      const raw = record[index] ?? "";
      const action = cellAction(raw);
      if (action === null) {
        bad = true;
        problems.push({
          line,
          column: columns[index],
          message: `${JSON.stringify(raw)} is not yes, true, no, false or blank`,
        });
        return undefined;
      }
      return action;
    });
    if (!bad) rows.push({ line, id, actions });
  }
  return { entityType, tags, rows, problems, rowCount: records.length - 1 };
}
