import { randomBytes } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { type Database, rows, type Tx } from "../db/client.ts";
import { InputError } from "../errors/index.ts";
import { type ImportSource, openSource, type SourceRow } from "./import-source.ts";
import { CellError, cellText, type FieldGetter, isBlank, type Raw } from "./import-values.ts";

export type ImportEntity = "accounts" | "users" | "events";

export interface ImportOptions {
  /** Import the valid rows and report the others, instead of refusing the file. */
  skipInvalid?: boolean;
  /** Called every few thousand rows while the file is read. */
  onProgress?: (progress: ImportProgress) => void;
  /**
   * At most this many touched ids of each kind are returned (default 10,000);
   * `touched.complete` is false when there were more.
   */
  touchedLimit?: number;
}

export interface ImportProgress {
  /** Reading and staging the file, then checking and merging the staged rows. */
  phase: "reading" | "merging";
  bytesRead: number;
  totalBytes: number | undefined;
  rows: number;
}

/** One offending row: its physical line in the file and what is wrong with it. */
export interface ImportProblem {
  line: number;
  message: string;
}

export interface ImportResult {
  entity: ImportEntity;
  /** The file (or stream name) imported. */
  source: string;
  /** Data rows read from the file. */
  rows: number;
  /** Rows written: accounts/users inserted or updated, events inserted. */
  imported: number;
  inserted: number;
  updated: number;
  /** Events not inserted because their event_id was already imported. */
  duplicates: number;
  /** Invalid rows left out (only with skipInvalid). */
  skipped: number;
  /** The first offending rows by line (at most 20). */
  problems: ImportProblem[];
  /** How many rows were invalid in all. */
  problemCount: number;
  /** Columns the import does not use (events have no attributes). */
  ignoredColumns: string[];
  /** Entities whose data changed, for re-evaluation; capped by touchedLimit. */
  touched: { accounts: string[]; users: string[]; complete: boolean };
  /** Seconds spent reading and staging the file, checking the staged rows, and merging them. */
  timings: { read: number; check: number; merge: number };
}

export const MAX_LISTED_PROBLEMS = 20;
const MAX_ATTRIBUTE_NAMES = 10_000;

export interface StagingColumn {
  name: string;
  type: string;
}

/** The known fields of one row (trimmed; blank values read as undefined) and its extra fields. */
export interface RowFields {
  known: FieldGetter;
  attributes: Record<string, unknown> | undefined;
}

export interface MergeContext {
  tx: Tx;
  staging: SQL;
  /** Known columns the file has (CSV: in the header; NDJSON: in any row). */
  present: ReadonlySet<string>;
  /** Names of the file's extra columns (attributes); a blank value removes the attribute. */
  attributeNames: readonly string[];
  touchedLimit: number;
  /** Set by the spec's convert(): flags it wants to pass to its merge. */
  flags: Set<string>;
}

export interface MergeOutcome {
  inserted: number;
  updated: number;
  duplicates: number;
  touched: ImportResult["touched"];
}

/** What differs between accounts, users and events. */
export interface ImportSpec {
  entity: ImportEntity;
  /** Staging columns in load order, after `line`. */
  staging: readonly StagingColumn[];
  /** Known column names (lowercase); a file's column matches one case-insensitively. */
  known: readonly string[];
  /** Extra columns become attributes (accounts, users) or are ignored (events). */
  attributes: boolean;
  /** Header-level check: the message for missing required columns, or undefined. */
  missingColumns(present: ReadonlySet<string>): string | undefined;
  /** Staging values (without `line`) of a row; throws CellError for a bad value. */
  convert(row: RowFields, flags: Set<string>): (string | null)[];
  /** SQL selecting (line, message) for rows that fail set-based checks (references, duplicates). */
  badRows(staging: SQL, present: ReadonlySet<string>): SQL;
  /** Moves the staged rows into the real tables (inside the import's transaction). */
  merge(ctx: MergeContext): Promise<MergeOutcome>;
}

/**
 * The import pipeline shared by accounts, users and events: stream-parse and
 * check each row, bulk-load the good ones into a staging table of its own,
 * run the reference and duplicate checks as set-based SQL there, then merge in
 * one transaction. Nothing touches the real tables unless the whole file is
 * good (or skipInvalid is set); the staging table is dropped in every case.
 */
export async function runImport(
  database: Database,
  source: ImportSource,
  spec: ImportSpec,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const opened = await openSource(source);
  const name = opened.name;
  const stagingName = `signaltag_import_${randomBytes(8).toString("hex")}`;
  const staging = sql.raw(`"${stagingName}"`);
  let created = false;
  try {
    const present = new Set<string>();
    const attributeNames = new Set<string>();
    const ignored = new Set<string>();
    const columnOf = new Map<string, string | null>();
    const knownSet = new Set(spec.known);
    const classify = (key: string): string | null => {
      let column = columnOf.get(key);
      if (column === undefined) {
        const lower = key.trim().toLowerCase();
        column = knownSet.has(lower) ? lower : null;
        columnOf.set(key, column);
        if (column) present.add(column);
        else if (spec.attributes) {
          if (attributeNames.size >= MAX_ATTRIBUTE_NAMES) {
            throw new InputError(
              `${name}: more than ${MAX_ATTRIBUTE_NAMES} distinct extra columns; attributes this varied belong in fewer columns.`,
            );
          }
          attributeNames.add(key);
        } else ignored.add(key);
      }
      return column;
    };

    if (opened.format === "csv") {
      if (opened.columns === undefined) {
        throw new InputError(
          `${name}: the file is empty; a CSV import needs a header line naming the columns.`,
        );
      }
      checkHeader(name, opened.columns, spec, classify);
    }

    await database.db.execute(
      sql`create unlogged table ${staging} (line integer not null, ${sql.raw(
        spec.staging.map((c) => `"${c.name}" ${c.type}`).join(", "),
      )})`,
    );
    created = true;

    const problems: ImportProblem[] = [];
    let problemCount = 0;
    let rowCount = 0;
    const flags = new Set<string>();
    const report = (line: number, message: string) => {
      problemCount++;
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ line, message });
    };
    const progress = (phase: ImportProgress["phase"] = "reading") =>
      opts.onProgress?.({
        phase,
        bytesRead: opened.bytesRead(),
        totalBytes: opened.totalBytes,
        rows: rowCount,
      });

    // copyRows is not told about a failing source (the Postgres COPY would be
    // left open), so the generator ends normally and the failure is rethrown after.
    let failure: unknown;
    async function* staged(input: AsyncIterable<SourceRow[]>): AsyncGenerator<(string | null)[]> {
      try {
        yield* stagedRows(input);
      } catch (err) {
        failure = err;
      }
    }
    // CSV columns are classified once, from the header; NDJSON keys per row (through a cache).
    const knownIndex = new Map<string, number>();
    const attributeIndex: [number, string][] = [];
    (opened.columns ?? []).forEach((column, i) => {
      const known = classify(column);
      if (known) knownIndex.set(known, i);
      else if (spec.attributes) attributeIndex.push([i, column]);
    });
    let cells: string[] = [];
    const csvFields: FieldGetter = {
      get(column) {
        const i = knownIndex.get(column);
        if (i === undefined) return undefined;
        const value = cells[i]!.trim();
        return value === "" ? undefined : value;
      },
    };
    const csvAttributes = (): Record<string, unknown> | undefined => {
      let attributes: Record<string, unknown> | undefined;
      for (const [i, key] of attributeIndex) {
        const value = cells[i]!.trim();
        if (value === "") continue;
        attributes ??= {};
        attributes[key] = value;
      }
      return attributes;
    };
    const ndjsonFields = (fields: Record<string, unknown>): RowFields => {
      const known = new Map<string, Raw>();
      let attributes: Record<string, unknown> | undefined;
      for (const key in fields) {
        const raw = fields[key];
        const column = classify(key);
        if (column) {
          if (isBlank(raw)) continue;
          try {
            known.set(column, cellText(raw));
          } catch (err) {
            if (err instanceof CellError) throw new CellError(`${column} ${err.message}`);
            throw err;
          }
        } else if (spec.attributes && !isBlank(raw)) {
          attributes ??= {};
          attributes[key.trim()] = typeof raw === "string" ? raw.trim() : raw;
        }
      }
      return { known, attributes };
    };

    async function* stagedRows(input: AsyncIterable<SourceRow[]>): AsyncGenerator<(string | null)[]> {
      for await (const batch of input) {
        for (const row of batch) {
          rowCount++;
          if ((rowCount & 0x3fff) === 0) progress();
          try {
            let fields: RowFields;
            if (row.values) {
              cells = row.values;
              fields = { known: csvFields, attributes: attributeIndex.length ? csvAttributes() : undefined };
            } else if (row.fields) {
              fields = ndjsonFields(row.fields);
            } else {
              report(row.line, `the row ${row.problem ?? "could not be read"}`);
              continue;
            }
            const values = spec.convert(fields, flags);
            values.unshift(String(row.line));
            yield values;
          } catch (err) {
            if (!(err instanceof CellError)) throw err;
            report(row.line, err.message);
          }
        }
      }
      progress();
    }

    const started = performance.now();
    await database.copyRows(stagingName, ["line", ...spec.staging.map((c) => c.name)], staged(opened.rows));
    if (failure !== undefined) throw failure;
    progress("merging");
    await database.db.execute(sql`analyze ${staging}`);
    const stagedAt = performance.now();

    return await database.db.transaction(async (tx) => {
      const bad = spec.badRows(staging, present);
      const listed = await rows<{ line: number; message: string; total: number }>(
        tx,
        sql`with bad as (${bad}),
          one as (select distinct on (line) line, message from bad order by line, message)
          select line::int as line, message, (count(*) over ())::int as total
          from one order by line limit ${MAX_LISTED_PROBLEMS}`,
      );
      const sqlProblemCount = Number(listed[0]?.total ?? 0);
      const allProblems = [...problems, ...listed.map((r) => ({ line: Number(r.line), message: r.message }))]
        .sort((a, b) => a.line - b.line)
        .slice(0, MAX_LISTED_PROBLEMS);
      const totalProblems = problemCount + sqlProblemCount;
      if (totalProblems > 0 && !opts.skipInvalid) {
        throw refusal(name, spec.entity, rowCount, totalProblems, allProblems);
      }
      if (sqlProblemCount > 0) {
        await tx.execute(sql`delete from ${staging} where line in (select line from (${bad}) b)`);
      }
      const checked = performance.now();
      await tx.execute(sql`set local work_mem = '64MB'`);
      const outcome = await spec.merge({
        tx,
        staging,
        present,
        attributeNames: [...attributeNames],
        touchedLimit: opts.touchedLimit ?? 10_000,
        flags,
      });
      return {
        entity: spec.entity,
        source: name,
        rows: rowCount,
        imported: outcome.inserted + outcome.updated,
        inserted: outcome.inserted,
        updated: outcome.updated,
        duplicates: outcome.duplicates,
        skipped: totalProblems,
        problems: allProblems,
        problemCount: totalProblems,
        ignoredColumns: [...ignored],
        touched: outcome.touched,
        timings: {
          read: (stagedAt - started) / 1000,
          check: (checked - stagedAt) / 1000,
          merge: (performance.now() - checked) / 1000,
        },
      };
    });
  } finally {
    opened.close();
    if (created) await database.db.execute(sql`drop table if exists ${staging}`);
  }
}

function checkHeader(
  name: string,
  columns: string[],
  spec: ImportSpec,
  classify: (key: string) => string | null,
): void {
  const seen = new Map<string, number>();
  columns.forEach((column, i) => {
    if (column === "") {
      throw new InputError(
        `${name} line 1: column ${i + 1} of the header has no name; name it or remove the column.`,
      );
    }
    const key = classify(column) ?? column;
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new InputError(
        `${name} line 1: the header names column "${key}" twice (columns ${previous + 1} and ${i + 1}).`,
      );
    }
    seen.set(key, i);
  });
  const missing = spec.missingColumns(new Set(columns.map((c) => classify(c)).filter((c) => c !== null)));
  if (missing) throw new InputError(`${name} line 1: ${missing} The header is: ${columns.join(",")}`);
}

function refusal(
  name: string,
  entity: ImportEntity,
  rowCount: number,
  total: number,
  listed: ImportProblem[],
): InputError {
  const lines = listed.map((p) => `  line ${p.line}: ${p.message}`);
  if (total > listed.length) lines.push(`  ... and ${total - listed.length} more`);
  const valid = rowCount - total;
  return new InputError(
    `${name}: refused, ${total} of ${rowCount} rows ${total === 1 ? "is" : "are"} invalid; no ${entity} were imported:\n${lines.join("\n")}\n` +
      `Fix these rows and import the file again, or import it with --skip-invalid to load the ${valid} valid row${valid === 1 ? "" : "s"} and skip the rest.`,
    {
      code: "import_refused",
      details: { file: name, entity, rows: rowCount, problemCount: total, problems: listed },
    },
  );
}

/** Literal SQL text for a list of column names, to build per-file UPDATE SET lists. */
export function identifiers(names: readonly string[]): SQL {
  return sql.raw(names.map((n) => `"${n}"`).join(", "));
}

/** Rows of the touched-ids query: kind is 'count' (with a and b) or 'account' / 'user' (with id). */
export interface TouchedRow {
  kind: string;
  id: string | null;
  a: number | null;
  b: number | null;
}

export function collectTouched(
  result: TouchedRow[],
  limit: number,
): { counts: TouchedRow | undefined; touched: ImportResult["touched"] } {
  const accounts: string[] = [];
  const users: string[] = [];
  let counts: TouchedRow | undefined;
  for (const r of result) {
    if (r.kind === "count") counts = r;
    else if (r.kind === "account" && r.id !== null) accounts.push(r.id);
    else if (r.kind === "user" && r.id !== null) users.push(r.id);
  }
  const complete = accounts.length <= limit && users.length <= limit;
  return {
    counts,
    touched: { accounts: accounts.slice(0, limit), users: users.slice(0, limit), complete },
  };
}
