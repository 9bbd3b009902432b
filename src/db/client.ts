import fs from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type postgres from "postgres";
import type { Config } from "../config.ts";
import { DatabaseBusyError } from "../errors/index.ts";
import * as schema from "./schema/index.ts";
import { transactionConnection } from "./transaction.ts";

export type Schema = typeof schema;
// biome-ignore lint/suspicious/noExplicitAny: the two drivers differ only in their result HKT
export type Db = PgDatabase<PgQueryResultHKT & any, Schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;

export const migrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../drizzle");

/**
 * An open database: drizzle for queries and transactions, plus a bulk-load
 * path (COPY on Postgres, batched INSERT on PGlite) for imports and seeding.
 */
export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly db: Db;
  /**
   * Loads rows into an existing table as fast as the backend allows. Values are
   * strings or null. With `tx` (a transaction from inTransaction) the rows are
   * loaded inside that transaction, so they can go into a temporary table of it.
   */
  copyRows(
    table: string,
    columns: readonly string[],
    rows: AsyncIterable<(string | null)[]>,
    tx?: Tx,
  ): Promise<number>;
  close(): Promise<void>;
}

/** Rows of a raw query, whichever driver ran it. */
export async function rows<T = Record<string, unknown>>(db: DbOrTx, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

export async function openDatabase(config: Pick<Config, "databaseUrl" | "dataDir">): Promise<Database> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl);
  return openPglite(config.dataDir);
}

export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Database> {
  const { default: postgresJs } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const common = { connection: { TimeZone: "UTC" }, onnotice: () => {} } as const;
  const client = postgresJs(url, { ...common, max: opts.max ?? 10 });
  // COPY gets a client of its own: drizzle(client) replaces the client's type handling.
  let copyClient: postgres.Sql | undefined;
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    kind: "postgres",
    db,
    async copyRows(table, columns, source, tx) {
      const cols = columns.map((c) => `"${c}"`).join(", ");
      const statement = `COPY "${table}" (${cols}) FROM STDIN`;
      const counted = { rows: 0 };
      copyClient ??= tx ? undefined : postgresJs(url, { ...common, max: 1 });
      await copyText(tx ? transactionCopy(tx) : copyClient!, statement, copyLines(source, counted));
      return counted.rows;
    },
    async close() {
      await Promise.all([client.end({ timeout: 5 }), copyClient?.end({ timeout: 5 })]);
    },
  };
}

/** The connection of a transaction from inTransaction, which COPY needs. */
function transactionCopy(tx: Tx): postgres.Sql {
  const connection = transactionConnection(tx);
  if (!connection) throw new Error("copyRows in a transaction needs one opened by inTransaction");
  return connection;
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
 * A COPY the server refused after its last data. postgres.js (3.4.9) drops
 * the server's error in that case (porsager/postgres#1173), so the reason is
 * only in the server's log.
 */
export class CopyRefused extends Error {
  constructor(statement: string) {
    super(`the server refused ${statement.split(" FROM ")[0]} (the reason is in its log)`);
    this.name = "CopyRefused";
  }
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

export async function openPglite(dataDir: string | undefined): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  let release = () => {};
  if (dataDir) {
    fs.mkdirSync(dataDir, { recursive: true });
    release = acquireDataDirLock(dataDir);
  }
  let pg: PGlite;
  try {
    pg = new PGlite(dataDir ? path.join(dataDir, "pgdata") : undefined);
    await pg.waitReady;
    await pg.exec("SET TIME ZONE 'UTC'");
  } catch (err) {
    release();
    throw err;
  }
  const db = drizzle(pg, { schema }) as unknown as Db;
  return {
    kind: "pglite",
    db,
    async copyRows(table, columns, source, tx) {
      const cols = columns.map((c) => `"${c}"`).join(", ");
      let batch: (string | null)[][] = [];
      let count = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        if (tx) {
          // In a transaction the statement must go through it: PGlite runs one at a time.
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
    },
    async close() {
      try {
        await pg.close();
      } finally {
        release();
      }
    },
  };
}

/**
 * The embedded database serves one process at a time. A lock file holds the
 * owner's pid; a lock left by a process that no longer runs is taken over.
 */
const heldLocks = new Set<string>();

function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = path.join(dataDir, "signaltag.lock");
  if (heldLocks.has(lockPath)) {
    throw new DatabaseBusyError(
      `The embedded database in ${dataDir} is already open in this process; it serves one connection at a time. Set DATABASE_URL to a Postgres database for concurrent use.`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" });
      heldLocks.add(lockPath);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        heldLocks.delete(lockPath);
        process.removeListener("exit", release);
        try {
          if (fs.readFileSync(lockPath, "utf8") === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
      process.once("exit", release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(fs.readFileSync(lockPath, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DatabaseBusyError(
          `The embedded database in ${dataDir} is in use by process ${owner}; it serves one process at a time. Set DATABASE_URL to a Postgres database to run several processes.`,
        );
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new DatabaseBusyError(
    `Could not lock the embedded database in ${dataDir}; set DATABASE_URL to use Postgres.`,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
