import { sql } from "drizzle-orm";
import type { DbOrTx } from "../db/client.ts";
import type { LoadedRule } from "./types.ts";

/**
 * Records the rules as loaded from their files: the current version of each
 * in `rules`, and every version ever seen in `rule_versions` (history refers
 * to them). Rules whose files are gone leave `rules`; their versions stay.
 */
export async function syncRules(
  db: DbOrTx,
  loaded: LoadedRule[],
  opts: { complete: boolean },
): Promise<void> {
  for (const r of loaded) {
    const def = r.definition;
    const json = JSON.stringify(def);
    await db.execute(sql`
      insert into rule_versions (rule_id, version, definition) values (${def.id}, ${r.version}, ${json}::jsonb)
      on conflict do nothing`);
    await db.execute(sql`
      insert into rules (id, version, tag, target, enabled, definition)
      values (${def.id}, ${r.version}, ${def.tag}, ${def.target}, ${def.enabled}, ${json}::jsonb)
      on conflict (id) do update set version = excluded.version, tag = excluded.tag, target = excluded.target,
        enabled = excluded.enabled, definition = excluded.definition, synced_at = now()
      where rules.version <> excluded.version or rules.enabled <> excluded.enabled`);
  }
  if (opts.complete) {
    const ids = loaded.map((r) => r.definition.id);
    await db.execute(ids.length ? sql`delete from rules where id not in ${ids}` : sql`delete from rules`);
  }
}
