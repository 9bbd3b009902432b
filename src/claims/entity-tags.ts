import type { DbOrTx } from "../db/client.ts";
import type { EntityType } from "../facts/catalog.ts";
import { entityClaims } from "./sql/tags.ts";

export interface ClaimInfo {
  source: string;
  since: string;
  actor: string | null;
}

/** A tag an entity has, with every claim that holds it there. */
export interface EntityTag {
  name: string;
  claims: ClaimInfo[];
}

/** An entity's tags, by name (case-insensitively), each with its claims oldest first. */
export async function entityTags(db: DbOrTx, type: EntityType, id: string): Promise<EntityTag[]> {
  const out: EntityTag[] = [];
  for (const c of await entityClaims(db, type, id)) {
    let tag = out[out.length - 1];
    if (!tag || tag.name !== c.tag) {
      tag = { name: c.tag, claims: [] };
      out.push(tag);
    }
    tag.claims.push({ source: c.source, since: c.since, actor: c.actor });
  }
  return out;
}
