import type postgres from "postgres";

/**
 * The postgres.js pool behind each drizzle instance that openPostgres made,
 * registered when it opens. The transaction and prepared-statement paths
 * reach the driver through this handle of our own, not through drizzle's
 * session (which is not part of its public API). A drizzle instance missing
 * here is a PGlite one or a transaction.
 */
const pools = new WeakMap<object, postgres.Sql>();

export function registerPool(db: object, pool: postgres.Sql): void {
  pools.set(db, pool);
}

export function poolOf(db: object): postgres.Sql | undefined {
  return pools.get(db);
}
