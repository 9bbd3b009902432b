import type { Writable } from "node:stream";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type postgres from "postgres";
import { CopyRefused } from "../errors/index.ts";
import type { Tx } from "./client.ts";

/** Loads rows into a table with COPY FROM STDIN in text format; returns how many there were. */
export async function copyRowsPostgres(
  connection: postgres.Sql,
  table: string,
  columns: readonly string[],
  source: AsyncIterable<(string | null)[]>,
): Promise<number> {
  const statement = `COPY "${table}" (${quotedColumns(columns)}) FROM STDIN`;
  const counted = { rows: 0 };
  await copyText(connection, statement, copyLines(source, counted));
  return counted.rows;
}

/**
 * Loads rows into a table with multi-row INSERTs (PGlite has no COPY FROM
 * STDIN); returns how many there were. With `tx` the statements go through
 * that transaction: PGlite runs one statement at a time.
 */
export async function insertRowsPglite(
  pg: PGlite,
  table: string,
  columns: readonly string[],
  source: AsyncIterable<(string | null)[]>,
  tx?: Tx,
): Promise<number> {
  const cols = quotedColumns(columns);
  let batch: (string | null)[][] = [];
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    if (tx) {
      const tuples = batch.map(
        (row) =>
          sql`(${sql.join(
            row.map((v) => sql`${v}`),
            sql`, `,
          )})`,
      );
      await tx.execute(
        sql`INSERT INTO ${sql.raw(`"${table}" (${cols})`)} VALUES ${sql.join(tuples, sql`, `)}`,
      );
    } else {
      const params: (string | null)[] = [];
      const tuples = batch.map((row) => {
        const slots = row.map((v) => {
          params.push(v);
          return `$${params.length}`;
        });
        return `(${slots.join(", ")})`;
      });
      await pg.query(`INSERT INTO "${table}" (${cols}) VALUES ${tuples.join(", ")}`, params);
    }
    count += batch.length;
    batch = [];
  };
  const perBatch = Math.max(1, Math.floor(30000 / columns.length));
  for await (const row of source) {
    batch.push(row);
    if (batch.length >= perBatch) await flush();
  }
  await flush();
  return count;
}

function quotedColumns(columns: readonly string[]): string {
  return columns.map((c) => `"${c}"`).join(", ");
}

/** Rows as COPY text-format lines, several thousand to a string. */
async function* copyLines(
  source: AsyncIterable<(string | null)[]>,
  counted: { rows: number },
): AsyncGenerator<string> {
  let chunk = "";
  for await (const row of source) {
    counted.rows++;
    chunk += row.map(copyValue).join("\t") + "\n";
    if (chunk.length > 1 << 16) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

/**
 * Runs a COPY ... FROM STDIN statement with the given data. If the source
 * fails, the COPY is aborted (CopyFail) before the error is rethrown, or the
 * connection would stay inside it and every later statement on it would hang.
 * If the server refuses the data, its error is thrown (CopyRefused when the
 * driver lost it).
 */
export async function copyText(
  connection: postgres.Sql,
  statement: string,
  source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
): Promise<void> {
  const query = connection.unsafe(statement);
  const writable: Writable = await query.writable();
  let finished = false;
  let failed: Error | undefined;
  const done = new Promise<void>((resolve, reject) => {
    writable.on("finish", () => {
      finished = true;
      resolve();
    });
    writable.on("error", (err) => {
      failed ??= err;
      reject(err);
    });
  });
  done.catch(() => {}); // every outcome is read from `finished` and `failed` too
  try {
    for await (const chunk of source) {
      if (!writable.write(chunk)) await Promise.race([new Promise((r) => writable.once("drain", r)), done]);
    }
  } catch (err) {
    writable.destroy(err instanceof Error ? err : new Error(String(err)));
    await done.catch(() => {});
    await (query as Promise<unknown>).catch(() => {});
    throw err;
  }
  // When the server refuses the data after its end was sent, postgres.js
  // neither finishes the stream nor reports the error (porsager/postgres#1173).
  // A statement sent after the end is answered only once the server has ended
  // the COPY, one way or the other: when its answer comes and the stream has
  // not finished, the COPY failed. The statement is empty: the server answers
  // it even in a failed transaction, and the driver runs the stream's pending
  // final step on the next statement that completes, which would finish the
  // stream after all. The end is sent by that final step, hooked here to tell
  // when it has run (before it, the driver refuses other statements).
  const hooked = writable as Writable & { _final: (cb: (err?: Error | null) => void) => void };
  const final = hooked._final;
  const endSent = new Promise<void>((resolve) => {
    hooked._final = function (this: Writable, cb) {
      final.call(this, cb);
      resolve();
    };
  });
  writable.end();
  await Promise.race([endSent, done]);
  await (connection.unsafe("") as Promise<unknown>).catch(() => {});
  if (failed) throw failed;
  if (!finished) throw new CopyRefused(statement);
}

/** COPY text format: \N for null, backslash escapes for the separators. */
function copyValue(value: string | null): string {
  if (value === null) return "\\N";
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}
