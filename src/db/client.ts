import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type postgres from "postgres";
import type { Config } from "../config.ts";
import { databaseUnavailable } from "./connection-errors.ts";
import { registerPool } from "./connections.ts";
import { copyRowsPostgres, insertRowsPglite } from "./copy.ts";
import { acquireDataDirLock } from "./embedded-lock.ts";
import { transactionConnection } from "./transaction.ts";

// src/imports loads with these two; their home is copy.ts and src/errors.

/**
 * drizzle without a relational schema: signaltag writes its queries with the
 * query builder and `sql`, never `db.query.<table>`, and a transaction's view
 * of its reserved connection (transaction.ts) is then cheap to make.
 */
// biome-ignore lint/suspicious/noExplicitAny: the two drivers differ only in their result HKT
export type Db = PgDatabase<PgQueryResultHKT & any>;
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

export async function openPostgres(
  url: string,
  opts: { max?: number; statementTimeoutMs?: number } = {},
): Promise<Database> {
  const { default: postgresJs } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  // statement_timeout is a startup parameter of every connection of the pool (the API server sets it).
  const connection = {
    TimeZone: "UTC",
    ...(opts.statementTimeoutMs === undefined ? {} : { statement_timeout: opts.statementTimeoutMs }),
  };
  const common = { connection, onnotice: () => {}, backoff: reconnectDelaySeconds } as const;
  const client = postgresJs(url, { ...common, max: opts.max ?? 10 });
  // postgres.js connects on the first query; connecting here makes a wrong
  // DATABASE_URL one clear error before any command starts its work.
  try {
    await client`select 1`;
  } catch (err) {
    await client.end({ timeout: 1 });
    throw databaseUnavailable(err, url) ?? err;
  }
  // COPY gets a client of its own: drizzle(client) replaces the client's type handling.
  let copyClient: postgres.Sql | undefined;
  const db: Db = drizzle(client);
  registerPool(db, client);
  return {
    kind: "postgres",
    db,
    async copyRows(table, columns, source, tx) {
      copyClient ??= tx ? undefined : postgresJs(url, { ...common, max: 1 });
      return copyRowsPostgres(tx ? transactionCopy(tx) : copyClient!, table, columns, source);
    },
    async close() {
      await Promise.all([client.end({ timeout: 5 }), copyClient?.end({ timeout: 5 })]);
    },
  };
}

/**
 * Seconds before a closed pool connection tries again. postgres.js counts
 * failures across the whole pool and, by default, waits up to 20 s (3^n/100):
 * ten connections refused during a one-second restart left the pool idle for
 * ten to twenty seconds after the server was back. Refused connects are cheap,
 * so the wait is capped at one second.
 */
export function reconnectDelaySeconds(failures: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** failures, 1);
}

/** The connection of a transaction from inTransaction, which COPY needs. */
function transactionCopy(tx: Tx): postgres.Sql {
  const connection = transactionConnection(tx);
  if (!connection) throw new Error("copyRows in a transaction needs one opened by inTransaction");
  return connection;
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
  const db: Db = drizzle(pg);
  return {
    kind: "pglite",
    db,
    copyRows: (table, columns, source, tx) => insertRowsPglite(pg, table, columns, source, tx),
    async close() {
      try {
        await pg.close();
      } finally {
        release();
      }
    },
  };
}
