import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { rows } from "../../src/db/client.ts";
import { rebuildRollups } from "../../src/imports/rollups.ts";

/** Small workspaces written straight into the tables, for tests of what reads them. */
export async function addAccount(
  database: Database,
  a: {
    id: string;
    provisionedAt?: string;
    contractStatus?: string | null;
    renewalDate?: string | null;
    healthScore?: number | null;
    health?: string | null;
    attributes?: Record<string, unknown>;
  },
): Promise<void> {
  await database.db.execute(sql`
    insert into accounts (id, name, provisioned_at, contract_status, renewal_date, health_score, health, attributes)
    values (${a.id}, ${`Account ${a.id}`}, ${a.provisionedAt ?? "2025-01-01T00:00:00Z"}::timestamptz,
            ${a.contractStatus ?? null}, ${a.renewalDate ?? null}::date, ${a.healthScore ?? null}, ${a.health ?? null},
            ${JSON.stringify(a.attributes ?? {})}::jsonb)`);
}

export async function addUser(
  database: Database,
  u: { id: string; accountId: string; createdAt?: string; attributes?: Record<string, unknown> },
): Promise<void> {
  await database.db.execute(sql`
    insert into users (id, account_id, email, name, created_at, attributes)
    values (${u.id}, ${u.accountId}, ${`${u.id}@example.com`}, ${`User ${u.id}`},
            ${u.createdAt ?? "2025-01-01T00:00:00Z"}::timestamptz, ${JSON.stringify(u.attributes ?? {})}::jsonb)`);
}

/** Raw events at noon UTC on each given day, then rollups recomputed in UTC. */
export async function addActivity(
  database: Database,
  e: { userId: string | null; accountId: string; days: string[]; activity?: string; module?: string | null },
): Promise<void> {
  if (e.days.length === 0) return;
  await database.db.execute(sql`
    insert into activity_events (user_id, account_id, activity, module, occurred_at, count)
    values ${sql.join(
      e.days.map(
        (d) =>
          sql`(${e.userId}, ${e.accountId}, ${e.activity ?? "login"}, ${e.module ?? null}, ${`${d}T12:00:00Z`}::timestamptz, 1)`,
      ),
      sql`, `,
    )}`);
  await rebuildRollups(database.db, "UTC");
}

/** The last `n` calendar days ending at `today`. */
export function lastDays(today: string, n: number, offset = 0): string[] {
  const base = Date.parse(`${today}T00:00:00Z`);
  return Array.from({ length: n }, (_, i) =>
    new Date(base - (i + offset) * 86_400_000).toISOString().slice(0, 10),
  );
}

export async function addManualClaim(database: Database, type: "user" | "account", id: string, tag: string) {
  await database.db.execute(
    sql`insert into tags (name) values (${tag}) on conflict ((lower(name))) do nothing`,
  );
  await database.db.execute(sql`
    insert into claims (source, tag_id, entity_type, entity_id, actor)
    select 'manual', id, ${type}, ${id}, 'test' from tags where lower(name) = lower(${tag})`);
}

export async function claimsOf(
  database: Database,
  tag: string,
): Promise<{ entity_id: string; source: string }[]> {
  return rows(
    database.db,
    sql`select c.entity_id, c.source from claims c join tags t on t.id = c.tag_id
        where lower(t.name) = lower(${tag}) order by c.entity_id, c.source`,
  );
}

export async function countRows(
  database: Database,
  table: "tag_events" | "claims" | "rule_runs",
): Promise<number> {
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from ${sql.identifier(table)}`,
  );
  return row?.n ?? 0;
}

/** A rules directory of its own holding these rule files. */
export function rulesDir(rules: Record<string, unknown>[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-rules-"));
  for (const r of rules) fs.writeFileSync(path.join(dir, `${String(r.id)}.json`), JSON.stringify(r, null, 2));
  return dir;
}

export function powerUsersRule(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "power-users",
    name: "Power users",
    tag: "power users",
    target: "user",
    enabled: true,
    conditions: {
      all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThanInclusive", value: 20 }],
    },
    ...extra,
  };
}
