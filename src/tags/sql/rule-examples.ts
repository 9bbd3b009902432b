import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import type { StoredExplanation } from "./history.ts";

/**
 * The latest tag event by which a rule added a tag it still claims, with the
 * explanation it stored (compact ones need expandExplanations): an example of
 * why an entity has the rule's tag.
 */
export async function latestRuleExample(
  db: DbOrTx,
  ruleId: string,
): Promise<(StoredExplanation & { entity_id: string }) | undefined> {
  const [example] = await rows<StoredExplanation & { entity_id: string }>(
    db,
    sql`select e.entity_id, e.rule_id, e.rule_version, e.as_of, e.explanation from tag_events e
        join claims c on c.tag_id = e.tag_id and c.entity_type = e.entity_type and c.entity_id = e.entity_id
          and c.source = e.source
        where e.source = ${`rule:${ruleId}`} and e.action = 'added'
        order by e.id desc limit 1`,
  );
  return example;
}
