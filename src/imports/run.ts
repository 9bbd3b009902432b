import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { type Database, type DbOrTx, rows } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { CellError, InputError } from "../errors/index.ts";
import { FieldReader } from "./fields.ts";
import { MAX_LISTED_PROBLEMS, ProblemLog, refusal } from "./problems.ts";
import { type ImportSource, type OpenedSource, openSource } from "./source.ts";
import type { ImportOptions, ImportProgress, ImportResult, ImportSpec } from "./types.ts";

/**
 * The import pipeline shared by accounts, users and events: stream-parse and
 * check each row, bulk-load the good ones into a staging table of its own,
 * run the reference and duplicate checks as set-based SQL there, then merge in
 * the same transaction. Nothing touches the real tables unless the whole file
 * is good (or skipInvalid is set); the staging table is temporary.
 * Memory stays flat: rows stream through, and only bounded summaries are kept.
 */
export async function runImport(
  database: Database,
  source: ImportSource,
  spec: ImportSpec,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const opened = await openSource(source);
  const name = opened.name;
  try {
    if (opened.format === "csv" && opened.columns === undefined) {
      throw new InputError(
        `${name}: the file is empty; a CSV import needs a header line naming the columns.`,
      );
    }
    const reader = new FieldReader(spec, name, opened.columns);
    await sweepStaging(database.db);
    return await inTransaction(database.db, async (tx) => {
      // A temporary table of this transaction: whatever ends the import (an
      // error, a refusal, a killed process) leaves no staging table behind.
      const stagingName = `signaltag_import_${randomBytes(8).toString("hex")}`;
      const staging = sql.raw(`"${stagingName}"`);
      await tx.execute(
        sql`create temporary table ${staging} (line integer not null, ${sql.raw(
          spec.staging.map((c) => `"${c.name}" ${c.type}`).join(", "),
        )}) on commit drop`,
      );
      const problems = new ProblemLog();
      const flags = new Set<string>();
      const stage = stager(opened, spec, reader, problems, flags, opts.onProgress);
      const started = performance.now();
      await database.copyRows(stagingName, ["line", ...spec.staging.map((c) => c.name)], stage.rows, tx);
      if (stage.failure() !== undefined) throw stage.failure();
      stage.progress("merging");
      // Fresh statistics, or the planner guesses the size of the staged rows.
      await tx.execute(sql`analyze ${staging}`);
      const stagedAt = performance.now();

      // The checks and the rollups hash every staged row; on a Postgres server a
      // bulk import may use the memory for that rather than spill to disk (this
      // transaction only). The embedded database's memory is this process's own.
      if (database.kind === "postgres") await tx.execute(sql`set local work_mem = '256MB'`);
      const bad = spec.badRows(staging, reader.present);
      const listed = await rows<{ line: number; message: string; total: number }>(
        tx,
        sql`with bad as (${bad}),
          one as (select distinct on (line) line, message from bad order by line, message)
          select line::int as line, message, (count(*) over ())::int as total
          from one order by line limit ${MAX_LISTED_PROBLEMS}`,
      );
      const badInSql = Number(listed[0]?.total ?? 0);
      problems.merge(
        listed.map((r) => ({ line: Number(r.line), message: r.message })),
        badInSql,
      );
      if (problems.count > 0 && !opts.skipInvalid) throw refusal(name, spec.entity, stage.count(), problems);
      if (badInSql > 0) {
        await tx.execute(sql`delete from ${staging} where line in (select line from (${bad}) b)`);
      }
      const checked = performance.now();
      const outcome = await spec.merge({
        tx,
        staging,
        present: reader.present,
        attributeNames: [...reader.attributeNames],
        touchedLimit: opts.touchedLimit ?? 10_000,
        flags,
      });
      return {
        entity: spec.entity,
        source: name,
        rows: stage.count(),
        imported: outcome.inserted + outcome.updated,
        inserted: outcome.inserted,
        updated: outcome.updated,
        duplicates: outcome.duplicates,
        skipped: problems.count,
        problems: problems.listed,
        problemCount: problems.count,
        ignoredColumns: [...reader.ignored],
        touched: outcome.touched,
        path: "exact",
        timings: {
          read: (stagedAt - started) / 1000,
          check: (checked - stagedAt) / 1000,
          merge: (performance.now() - checked) / 1000,
        },
      };
    });
  } finally {
    opened.close();
  }
}

/**
 * Drops staging tables that earlier versions created as ordinary tables and a
 * killed import left behind. Imports now stage into temporary tables, which
 * never outlive their transaction, so no ordinary table of that name is in use.
 */
export async function sweepStaging(db: DbOrTx): Promise<number> {
  const stale = await rows<{ name: string }>(
    db,
    sql`select c.relname as name from pg_class c
        where c.relkind = 'r' and c.relpersistence <> 't' and c.relname like ${"signaltag\\_import\\_%"}
          and c.relnamespace = current_schema()::regnamespace`,
  );
  for (const { name } of stale) {
    await db.execute(sql`drop table if exists ${sql.identifier(name)}`);
  }
  return stale.length;
}

/**
 * The staging rows of a file: each row converted by the spec, prefixed with
 * its line number; rows that fail go to the problem log instead.
 */
function stager(
  opened: OpenedSource,
  spec: ImportSpec,
  reader: FieldReader,
  problems: ProblemLog,
  flags: Set<string>,
  onProgress: ImportOptions["onProgress"],
) {
  let count = 0;
  let failure: unknown;
  const progress = (phase: ImportProgress["phase"] = "reading") =>
    onProgress?.({ phase, bytesRead: opened.bytesRead(), totalBytes: opened.totalBytes, rows: count });

  async function* converted(): AsyncGenerator<(string | null)[]> {
    for await (const batch of opened.rows) {
      for (const row of batch) {
        count++;
        if ((count & 0x3fff) === 0) progress();
        try {
          const fields = reader.fields(row);
          if (!fields) {
            problems.report(row.line, `the row ${row.problem ?? "could not be read"}`);
            continue;
          }
          const values = spec.convert(fields, flags);
          values.unshift(String(row.line));
          yield values;
        } catch (err) {
          if (!(err instanceof CellError)) throw err;
          problems.report(row.line, err.message);
        }
      }
    }
    progress();
  }

  // copyRows is not told about a failing source (the Postgres COPY would be
  // left open), so the rows end normally and the failure is rethrown after.
  async function* guarded(): AsyncGenerator<(string | null)[]> {
    try {
      yield* converted();
    } catch (err) {
      failure = err;
    }
  }

  return { rows: guarded(), failure: () => failure, count: () => count, progress };
}
