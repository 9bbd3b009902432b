import { type EntityTag, entityTags } from "../claims/entity-tags.ts";
import { ensureTag } from "../claims/sql/tags.ts";
import { normalizeTagName } from "../claims/tag-name.ts";
import { addClaims, removeClaims, singlePair } from "../claims/write-changes.ts";
import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { NotFoundError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { lockEntityFindTag } from "../facts/sql/entities.ts";
import { fieldSizeProblem } from "../limits.ts";
import { reportChanged, type TagHooks } from "./changes.ts";

export interface TagChange {
  type: EntityType;
  id: string;
  tag: string;
  /** Who made the change: an API key's name, or the CLI user. */
  actor: string;
}

export interface TagChangeResult {
  /** Whether anything changed (false: the claim already existed, or there was nothing to remove). */
  changed: boolean;
  /** The tag's display name as stored (an existing tag keeps its original spelling). */
  tag: string;
  /** Claims added or removed. */
  claims: { source: string; membershipChanged: boolean }[];
  /** The entity's tags after the change. */
  tags: EntityTag[];
}

export function entityNotFound(type: EntityType, id: string): NotFoundError {
  // An id no entity can have is not quoted back whole (it may be megabytes).
  const tooLarge = fieldSizeProblem("id", id);
  if (tooLarge)
    return new NotFoundError(`no ${type} has this id: it ${tooLarge}`, { details: { entityType: type } });
  return new NotFoundError(`no ${type} with id ${JSON.stringify(id)}`, {
    details: { entityType: type, id },
  });
}

/**
 * Tags one entity by hand: a `manual` claim, created with the tag on first
 * use. Applying a tag the entity already holds by hand changes nothing.
 * The hooks hear of it when the entity gained the tag.
 */
export async function applyTag(db: DbOrTx, change: TagChange, hooks: TagHooks): Promise<TagChangeResult> {
  const name = normalizeTagName(change.tag);
  const result = await inTransaction(db, async (tx) => {
    const locked = await lockEntityFindTag(tx, change.type, change.id, name);
    if (!locked.found) throw entityNotFound(change.type, change.id);
    const tag = locked.tag ?? (await ensureTag(tx, name));
    const added = await addClaims(tx, {
      type: change.type,
      source: "manual",
      actor: change.actor,
      note: { reason: "added by hand" },
      pairs: singlePair(change.id, tag.id),
      prepare: true,
    });
    return {
      changed: added.length > 0,
      tag: tag.name,
      claims: added.map((c) => ({ source: c.source, membershipChanged: c.membership_changed })),
      tags: await entityTags(tx, change.type, change.id),
    };
  });
  await reportMembership(hooks, change, result);
  return result;
}

/**
 * Removes a tag from one entity by hand: every claim on it goes, whatever its
 * source (DESIGN section 1). A rule that still matches claims it again on its
 * next run unless the tag is also suppressed. The hooks hear of it when the
 * entity lost the tag.
 */
export async function removeTag(db: DbOrTx, change: TagChange, hooks: TagHooks): Promise<TagChangeResult> {
  const name = normalizeTagName(change.tag);
  const result = await inTransaction(db, async (tx) => {
    const { found, tag } = await lockEntityFindTag(tx, change.type, change.id, name);
    if (!found) throw entityNotFound(change.type, change.id);
    const removed = tag
      ? await removeClaims(tx, {
          type: change.type,
          actor: change.actor,
          note: { reason: "removed by hand" },
          pairs: singlePair(change.id, tag.id),
          prepare: true,
        })
      : [];
    return {
      changed: removed.length > 0,
      tag: tag?.name ?? name,
      claims: removed.map((c) => ({ source: c.source, membershipChanged: c.membership_changed })),
      tags: await entityTags(tx, change.type, change.id),
    };
  });
  await reportMembership(hooks, change, result);
  return result;
}

async function reportMembership(hooks: TagHooks, change: TagChange, result: TagChangeResult): Promise<void> {
  if (result.claims.some((c) => c.membershipChanged)) await reportChanged(hooks, change.type, [change.id]);
}
