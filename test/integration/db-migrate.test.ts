import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

describe.skipIf(backendUnavailable())("db migrate", () => {
  const t = useTestDatabase();

  it("applies the committed migrations again without changing anything", async () => {
    const before = await rows<{ n: number }>(
      t.database.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    const result = await runCli(t.database, ["db", "migrate"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/migrations applied/);
    const after = await rows<{ n: number }>(
      t.database.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    expect(after[0]?.n).toBe(before[0]?.n);
    expect(after[0]?.n).toBeGreaterThan(0);
  });

  it("creates every table of the data model", async () => {
    const tables = await rows<{ name: string }>(
      t.database.db,
      sql`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
    );
    expect(tables.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        "accounts",
        "users",
        "activity_events",
        "activity_daily",
        "tags",
        "claims",
        "tag_events",
        "rules",
        "rule_versions",
        "rule_runs",
      ]),
    );
  });
});
