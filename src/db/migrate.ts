import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { MissingPrerequisiteError } from "../errors/index.ts";
import { type Database, migrationsFolder, rows } from "./client.ts";

/** Applies the committed drizzle migrations; safe to run any number of times. */
export async function migrate(database: Database): Promise<void> {
  if (database.kind === "postgres") {
    const { migrate: run } = await import("drizzle-orm/postgres-js/migrator");
    await run(database.db as never, { migrationsFolder });
  } else {
    const { migrate: run } = await import("drizzle-orm/pglite/migrator");
    await run(database.db as never, { migrationsFolder });
  }
}

function committedMigrationCount(): number {
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder, "meta/_journal.json"), "utf8")) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

/**
 * The embedded database is created and migrated on first use. A Postgres
 * database is migrated only by `signaltag db migrate` (several processes share
 * it), so a command finding it behind says what to run.
 */
export async function ensureMigrated(database: Database): Promise<void> {
  if (database.kind === "pglite") {
    await migrate(database);
    return;
  }
  // Two statements: a table named in a query must exist even in a branch that never runs.
  const [found] = await rows<{ present: boolean; name: string }>(
    database.db,
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present, current_database() as name`,
  );
  let applied = 0;
  if (found?.present) {
    const [counted] = await rows<{ applied: number }>(
      database.db,
      sql`select count(*)::int as applied from drizzle.__drizzle_migrations`,
    );
    applied = counted?.applied ?? 0;
  }
  const committed = committedMigrationCount();
  if (applied < committed) {
    throw new MissingPrerequisiteError(
      `database ${JSON.stringify(found?.name ?? "")} (DATABASE_URL) is not migrated (${applied} of ${committed} migrations applied); run \`signaltag db migrate\` first`,
      { code: "not_migrated" },
    );
  }
}
