import { sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client.ts";

/** Keeps a rule version (history reads explanations against it); a version seen before is left as it is. */
export async function insertRuleVersion(
  db: DbOrTx,
  id: string,
  version: string,
  json: string,
): Promise<void> {
  await db.execute(sql`
    insert into rule_versions (rule_id, version, definition) values (${id}, ${version}, ${json}::jsonb)
    on conflict do nothing`);
}

/** The rule's current version and settings in `rules`; written only when its version or enabled flag changed. */
export async function upsertRule(
  db: DbOrTx,
  rule: { id: string; version: string; tag: string; target: string; enabled: boolean; json: string },
): Promise<void> {
  await db.execute(sql`
    insert into rules (id, version, tag, target, enabled, definition)
    values (${rule.id}, ${rule.version}, ${rule.tag}, ${rule.target}, ${rule.enabled}, ${rule.json}::jsonb)
    on conflict (id) do update set version = excluded.version, tag = excluded.tag, target = excluded.target,
      enabled = excluded.enabled, definition = excluded.definition, synced_at = now()
    where rules.version <> excluded.version or rules.enabled <> excluded.enabled`);
}

/** Removes from `rules` every rule not among these ids (their files are gone); their versions stay. */
export async function deleteRulesOtherThan(db: DbOrTx, ids: readonly string[]): Promise<void> {
  await db.execute(ids.length ? sql`delete from rules where id not in ${ids}` : sql`delete from rules`);
}
