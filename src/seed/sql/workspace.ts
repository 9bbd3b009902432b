import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/** How many accounts and users the workspace holds, and whether it has activity events. */
export async function workspaceContents(
  db: DbOrTx,
): Promise<{ accounts: number; users: number; events: boolean }> {
  const [row] = await rows<{ accounts: number; users: number; events: boolean }>(
    db,
    sql`select (select count(*) from accounts)::int as accounts,
               (select count(*) from users)::int as users,
               exists (select 1 from activity_events) as events`,
  );
  return { accounts: row?.accounts ?? 0, users: row?.users ?? 0, events: row?.events ?? false };
}

export async function accountCount(db: DbOrTx): Promise<number> {
  const [row] = await rows<{ n: number }>(db, sql`select count(*)::int as n from accounts`);
  return row?.n ?? 0;
}

export async function rollupCount(db: DbOrTx): Promise<number> {
  const [row] = await rows<{ n: number }>(db, sql`select count(*)::int as n from activity_daily`);
  return row?.n ?? 0;
}

/**
 * Empties those of the named tables the database has (in its current
 * schema) and restarts their ids. CASCADE: whatever refers to their rows
 * goes with them.
 */
export async function emptyTables(db: DbOrTx, names: readonly string[]): Promise<void> {
  const present = await rows<{ name: string }>(
    db,
    sql`select table_name as name from information_schema.tables
        where table_schema = current_schema() and table_name in (${sql.join(
          names.map((name) => sql`${name}`),
          sql`, `,
        )})`,
  );
  await db.execute(
    sql.raw(`TRUNCATE ${present.map((t) => `"${t.name}"`).join(", ")} RESTART IDENTITY CASCADE`),
  );
}

/** Fresh statistics for the workspace's entity and activity tables. */
export async function analyzeWorkspace(db: DbOrTx): Promise<void> {
  await db.execute(sql`analyze accounts, users, activity_events, activity_daily, activity_summary`);
}
