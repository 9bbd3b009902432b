import type { SQL } from "drizzle-orm";
import type postgres from "postgres";
import { type DbOrTx, rows } from "./client.ts";

interface DrizzleInternals {
  dialect: { sqlToQuery(query: SQL): { sql: string; params: unknown[] } };
  _: { session: { client?: unknown } };
}

/**
 * Rows of a query run as a named prepared statement on Postgres (postgres.js
 * caches it per connection), so a parameterized query is one round trip
 * instead of two: without a prepared statement postgres.js first asks the
 * server for the parameter types. Only for queries whose text is fixed (the
 * hot paths of single-entity requests); anything else goes through rows().
 * On PGlite this is rows().
 */
export async function preparedRows<T = Record<string, unknown>>(db: DbOrTx, query: SQL): Promise<T[]> {
  const internals = db as unknown as DrizzleInternals;
  const client = internals._?.session?.client as postgres.Sql | undefined;
  if (!client || typeof (client as { unsafe?: unknown }).unsafe !== "function" || !internals.dialect) {
    return rows<T>(db, query);
  }
  const { sql: text, params } = internals.dialect.sqlToQuery(query);
  const result = await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
  return result as unknown as T[];
}
