import { PostgresJsSession, PostgresJsTransaction } from "drizzle-orm/postgres-js";
import type postgres from "postgres";
import type { DbOrTx, Tx } from "./client.ts";

/** Transactions this module opened on a reserved connection, and that connection; work nested in them joins them. */
const reservedTransactions = new WeakMap<object, postgres.ReservedSql>();

/**
 * The Postgres connection a transaction from inTransaction runs on, for what
 * drizzle cannot send (COPY FROM STDIN inside the transaction); undefined for
 * other transactions and on PGlite.
 */
export function transactionConnection(tx: DbOrTx): postgres.ReservedSql | undefined {
  return reservedTransactions.get(tx);
}

interface DrizzleInternals {
  dialect: ConstructorParameters<typeof PostgresJsSession>[1];
  _: { session: { client?: unknown; schema?: ConstructorParameters<typeof PostgresJsSession>[2] } };
}

/**
 * Runs `fn` in one transaction. On Postgres the transaction gets a connection
 * reserved from the pool before BEGIN is sent: postgres.js's own sql.begin
 * can pipeline BEGIN behind other queries on a busy connection and, under
 * concurrent load, then fail with UNSAFE_TRANSACTION (or leave the server in a
 * transaction the pool no longer tracks; postgres.js 3.4.9, its issues #823
 * and #1189). A reserved connection is never shared, so that cannot happen.
 * Inside a transaction (drizzle's or this one) and on PGlite this is
 * `db.transaction`, or simply `fn(db)` within a reserved transaction.
 */
export async function inTransaction<T>(db: DbOrTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (reservedTransactions.has(db)) return fn(db as Tx);
  const internals = db as unknown as DrizzleInternals;
  const client = internals._?.session?.client as (postgres.Sql & { reserve?: unknown }) | undefined;
  if (!client || typeof client.reserve !== "function" || typeof client.begin !== "function") {
    return db.transaction(fn);
  }
  const reserved = await client.reserve();
  try {
    // BEGIN goes out now and the transaction's first statement right behind it on the
    // same reserved connection: one round trip saved, and nothing else can slip in between.
    const began = reserved.unsafe("begin").execute();
    const schema = internals._.session.schema;
    const session = new PostgresJsSession(reserved, internals.dialect, schema, {});
    const tx = new PostgresJsTransaction(internals.dialect, session as never, schema) as unknown as Tx;
    reservedTransactions.set(tx, reserved);
    let result: T;
    try {
      const work = fn(tx);
      // BEGIN only fails on a broken connection, where the statements behind it fail too.
      await Promise.all([began, work]);
      result = await work;
    } catch (err) {
      // A failed rollback means a broken connection, which postgres.js closes; the first error is the one to report.
      await reserved.unsafe("rollback").catch(() => {});
      throw err;
    }
    await reserved.unsafe("commit");
    return result;
  } finally {
    reserved.release();
  }
}

/** Carries a rolled-back transaction's value out of it; private to this module, so no caller uses throws for control flow. */
class RolledBack<T> {
  constructor(readonly value: T) {}
}

/**
 * Runs `fn` in one transaction that commits only when it says so: `fn`
 * returns its value and whether to commit (a dry run, or a run the removal
 * guard holds, returns `commit: false` and keeps nothing). Nested in a
 * drizzle transaction, a rollback undoes this part (a savepoint); within a
 * transaction of inTransaction it joins that one, whose own outcome decides.
 */
export async function transactionWithOutcome<T>(
  db: DbOrTx,
  fn: (tx: Tx) => Promise<{ value: T; commit: boolean }>,
): Promise<T> {
  try {
    return await inTransaction(db, async (tx) => {
      const outcome = await fn(tx);
      if (!outcome.commit) throw new RolledBack(outcome.value);
      return outcome.value;
    });
  } catch (err) {
    if (err instanceof RolledBack) return err.value as T;
    throw err;
  }
}
