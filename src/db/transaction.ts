import { drizzle } from "drizzle-orm/postgres-js";
import type postgres from "postgres";
import type { DbOrTx, Tx } from "./client.ts";
import { poolOf } from "./connections.ts";

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
  const pool = poolOf(db);
  if (!pool) return db.transaction(fn);
  const reserved = await pool.reserve();
  let givenUp = false;
  try {
    // BEGIN goes out now and the transaction's first statement right behind it on the
    // same reserved connection: one round trip saved, and nothing else can slip in between.
    const began = reserved.unsafe("begin").execute();
    const tx = reservedView(reserved, pool);
    reservedTransactions.set(tx, reserved);
    let result: T;
    try {
      const work = fn(tx);
      // BEGIN only fails on a broken connection, where the statements behind it fail too.
      await Promise.all([began, work]);
      result = await work;
    } catch (err) {
      // A failed rollback means a broken connection, which postgres.js closes; the first error is the one to report.
      givenUp = !(await settlesWithin(reserved.unsafe("rollback"), ROLLBACK_DEADLINE_MS));
      // No answer at all (a cut link, or a statement the driver lost in a restart): the
      // connection is ended instead of waiting on it for good, and the server rolls back
      // the transaction of a session that ends.
      if (givenUp) (reserved as Terminable).terminate();
      throw err;
    }
    await reserved.unsafe("commit");
    return result;
  } finally {
    // A connection given up is not handed to anyone again; the pool connects afresh.
    if (!givenUp) reserved.release();
  }
}

/**
 * How long a ROLLBACK may go unanswered. It asks nothing of the server but to
 * end the transaction, so no answer means the connection is gone; it is then
 * ended (scripts/patch-postgres.mjs gives a reservation `terminate`).
 */
export const ROLLBACK_DEADLINE_MS = 10_000;

type Terminable = postgres.ReservedSql & { terminate(): void };

/** Whether `p` settles (either way) within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * drizzle over the reserved connection: every statement of the transaction
 * goes there. BEGIN, COMMIT and ROLLBACK are inTransaction's, so the view is
 * typed as the transaction it stands for; work nested in it joins it rather
 * than calling its `transaction`. postgres.js gives a reserved connection no
 * `options` (its type says it has them), where drizzle installs its type
 * parsers: it gets the pool's, which the pool's connections (this one too)
 * already use since drizzle(pool).
 */
function reservedView(reserved: postgres.ReservedSql, pool: postgres.Sql): Tx {
  return drizzle(Object.assign(reserved, { options: pool.options })) as unknown as Tx;
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
