import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type postgres from "postgres";
import { type DbOrTx, rows } from "./client.ts";
import { poolOf } from "./connections.ts";
import { transactionConnection } from "./transaction.ts";

/** Turns a query into text and parameters as the drizzle instances of client.ts do (no casing). */
const dialect = new PgDialect();

/**
 * Rows of a query run as a named prepared statement on Postgres (postgres.js
 * caches it per connection), so a parameterized query is one round trip
 * instead of two: without a prepared statement postgres.js first asks the
 * server for the parameter types. Only for queries whose text is fixed (the
 * hot paths of single-entity requests); anything else goes through rows().
 * On PGlite, and in a transaction that inTransaction did not open, this is rows().
 */
export async function preparedRows<T = Record<string, unknown>>(db: DbOrTx, query: SQL): Promise<T[]> {
  const connection = transactionConnection(db) ?? poolOf(db);
  if (!connection) return rows<T>(db, query);
  const { sql: text, params } = dialect.sqlToQuery(query);
  const result = await connection.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
    prepare: true,
  });
  return result as unknown as T[];
}
