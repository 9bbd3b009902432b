import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { type Database, openPglite, openPostgres } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { adminUrl, databaseUrl } from "./postgres-urls.ts";

export type Backend = "pglite" | "postgres";

export function testBackend(): Backend {
  return process.env.SIGNALTAG_TEST_BACKEND === "postgres" ? "postgres" : "pglite";
}

/** True when this project's backend cannot run here (only outside CI). */
export function backendUnavailable(): boolean {
  return testBackend() === "postgres" && !inject("postgresAvailable");
}

export interface TestDatabase {
  readonly database: Database;
  /** The connection string of this file's own Postgres database (undefined on PGlite). */
  readonly url: string | undefined;
  /** Empties every table, so each test starts from a clean workspace. */
  reset(): Promise<void>;
}

/**
 * One database per test file: an in-memory PGlite, or a Postgres database
 * cloned from the migrated template and dropped afterwards.
 */
export function useTestDatabase(): TestDatabase {
  let database: Database | undefined;
  let url: string | undefined;
  let dbName: string | undefined;
  beforeAll(async () => {
    if (testBackend() === "pglite") {
      database = await openPglite(undefined);
      await migrate(database);
      return;
    }
    dbName = `signaltag_test_${randomBytes(6).toString("hex")}`;
    const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`CREATE DATABASE ${dbName} TEMPLATE ${inject("postgresTemplate")}`);
    } finally {
      await admin.end({ timeout: 5 });
    }
    url = databaseUrl(dbName);
    database = await openPostgres(url, { max: 10 });
  });
  afterAll(async () => {
    await database?.close();
    if (dbName) {
      const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    }
  });
  return {
    get database() {
      if (!database) throw new Error("test database used outside a test");
      return database;
    },
    get url() {
      return url;
    },
    async reset() {
      if (!database) throw new Error("test database used outside a test");
      await database.db.execute(
        sql.raw(
          "TRUNCATE accounts, users, activity_events, activity_daily, tags, claims, tag_events, rules, rule_versions, rule_runs, suppressions, api_keys RESTART IDENTITY CASCADE",
        ),
      );
    },
  };
}
