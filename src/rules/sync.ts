import type { DbOrTx } from "../db/client.ts";
import { deleteRulesOtherThan, insertRuleVersion, upsertRule } from "./sql/rules.ts";
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
    await insertRuleVersion(db, def.id, r.version, json);
    await upsertRule(db, {
      id: def.id,
      version: r.version,
      tag: def.tag,
      target: def.target,
      enabled: def.enabled,
      json,
    });
  }
  if (opts.complete)
    await deleteRulesOtherThan(
      db,
      loaded.map((r) => r.definition.id),
    );
}
