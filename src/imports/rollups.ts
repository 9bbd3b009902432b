import { type SQL, sql } from "drizzle-orm";
import type postgres from "postgres";
import { type DbOrTx, rows, type Tx } from "../db/client.ts";
import { copyText } from "../db/copy.ts";
import { transactionConnection } from "../db/transaction.ts";
import {
  accountsOfUserSums,
  addToExisting,
  COPY_INTO_ROLLUPS,
  COPY_INTO_SUMS,
  createSumsTable,
  dayNumbers,
  daysOfEvents,
  eventRollupMerge,
  insertRollups,
  lockRollupsTable,
  recomputeRollups,
  SUMS_TABLE,
  summaryOverlaps,
  totalSums,
} from "./sql/rollups.ts";

/*
 * The one writer of the daily rollups (activity_daily): the imports, the
 * seed and a rebuild all write them through these functions, whose SQL is in
 * sql/rollups.ts. A rollup row is the sum of the counts of one entity's
 * events on one calendar day (in the workspace time zone) for one activity
 * and module; each event counts for its account and, when it has one, its
 * user.
 *
 * Imports that add to existing rollups hold lockRollups() first: they insert
 * the keys they did not find, which is only safe while no one else can add
 * them. Whether any key can exist at all is told by rollupsWithin() or
 * rollupsWithinEvents() (`fresh` when not): then every row is inserted with
 * no update or test.
 *
 * The tracking API's commits instead upsert (addEventRollups with
 * `concurrent`), in key order, and take no lock of their own: they run side
 * by side. The imports' lock (SHARE ROW EXCLUSIVE) conflicts with the ROW
 * EXCLUSIVE lock their upserts take, so an import and those commits still
 * exclude each other, and the import's test of which keys exist stays true.
 */

/** Keeps other writers of the rollups out until this transaction ends (readers are not blocked). */
export async function lockRollups(tx: DbOrTx): Promise<void> {
  await lockRollupsTable(tx);
}

/**
 * Whether any entity has rollups on a day from `first` to `last` (days since
 * 1970), as the activity summary tells without reading the rollups: each
 * summary spans its entity's first to last active day.
 */
export async function rollupsWithin(db: DbOrTx, first: number, last: number): Promise<boolean> {
  return summaryOverlaps(db, dayNumbers(first, last));
}

/** rollupsWithin() for the days of `events` (a relation with occurred_at) in `timezone`. */
export async function rollupsWithinEvents(db: DbOrTx, events: SQL, timezone: string): Promise<boolean> {
  return summaryOverlaps(db, daysOfEvents(events, timezone));
}

function connectionOf(tx: Tx): postgres.Sql {
  const connection = transactionConnection(tx);
  if (!connection) throw new Error("a COPY into the rollups needs a Postgres transaction of inTransaction");
  return connection;
}

/**
 * Loads rollup rows as they come (binary COPY data of activity_daily's
 * columns, one row per key, in the primary key's order so that the insert
 * visits each index page once) into days where no entity has rollups yet
 * (rollupsWithin() is false), with no table in between. Postgres only.
 */
export async function copyRollups(tx: Tx, data: AsyncIterable<Uint8Array>): Promise<void> {
  await copyText(connectionOf(tx), COPY_INTO_ROLLUPS, data);
}

/**
 * Adds sums summed elsewhere (binary COPY data of activity_daily's columns)
 * to the rollups, through a temporary table. The rows come in the primary
 * key's order, or at least grouped by entity, which the insert keeps. When
 * `partial`, a key may have several rows, to be added up, and an entity_type
 * of 'user-account' stands for the account of the user entity_id. When
 * `fresh` (no entity has rollups on the sums' days) every key is new and the
 * sums are inserted as they are; otherwise the existing keys are updated
 * first, and only when there were some does the insert of the others test
 * each key again. Postgres only; the caller holds lockRollups().
 */
export async function mergeRollupSums(
  tx: Tx,
  data: AsyncIterable<Uint8Array>,
  opts: { partial: boolean; fresh: boolean },
): Promise<void> {
  await createSumsTable(tx);
  await copyText(connectionOf(tx), COPY_INTO_SUMS, data);
  // Partial sums are added up once into a table of their own, grouped by entity.
  const source = opts.partial ? await totalSums(tx) : SUMS_TABLE;
  const existed = opts.fresh ? 0 : await addToExisting(tx, source);
  await insertRollups(tx, source, existed > 0);
}

/** After mergeRollupSums(): the accounts whose sums came through their users (at most `limit`). */
export async function accountsThroughUsers(tx: Tx, limit: number): Promise<string[]> {
  return accountsOfUserSums(tx, limit);
}

/**
 * Adds the rollups of events summed in SQL, in one statement: `with
 * <before>, <the rollups' merge> <select>`, whose rows it returns. `events`
 * is a relation with user_id, account_id, activity, module, occurred_at and
 * count, such as the rows an insert into activity_events in `before`
 * returns; its events must have been checked (every event of a user carries
 * that user's account). `select` (by default none of interest) may read
 * NEW_ROLLUPS (sql/rollups.ts), the new rollup rows (one per key). `fresh` as for
 * mergeRollupSums(); the caller holds lockRollups(). With `concurrent`
 * instead, the rows are upserted in key order without the lock, beside
 * other such writers (a deadlock or serialization failure among them is the
 * caller's to retry).
 */
export async function addEventRollups<T>(
  tx: DbOrTx,
  opts: { events: SQL; timezone: string; before?: SQL; select?: SQL } & (
    | { fresh: boolean; concurrent?: never }
    | { concurrent: true; fresh?: never }
  ),
): Promise<T[]> {
  const how = opts.concurrent ? "upsert" : opts.fresh ? "fresh" : "merge";
  const merge = eventRollupMerge(opts.events, opts.timezone, how);
  const before = opts.before ? sql`${opts.before}, ` : sql``;
  return rows<T>(tx, sql`with ${before}${merge} ${opts.select ?? sql`select 1`}`);
}

/**
 * Recomputes every rollup from the stored events (after a bulk load, or a
 * time zone change), in one transaction. `workMem` (Postgres only) sizes the
 * sort.
 */
export async function rebuildRollups(
  db: DbOrTx,
  timezone: string,
  opts: { workMem?: string } = {},
): Promise<void> {
  await db.transaction((tx) => recomputeRollups(tx, timezone, opts.workMem));
}
