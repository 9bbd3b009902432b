import { type EntityTag, entityTags } from "../claims/entity-tags.ts";
import { ensureTag, findTags } from "../claims/sql/tags.ts";
import { normalizeTagName } from "../claims/tag-name.ts";
import { addClaims, entityTagPairs, removeClaims } from "../claims/write-changes.ts";
import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { lockEntity } from "../facts/sql/entities.ts";
import { reportChanged, type TagHooks } from "./changes.ts";
import { entityNotFound } from "./manual.ts";

/** How many tags one request may add and remove in all: a person's edit, not a bulk job. */
export const MAX_TAG_CHANGES = 100;

export interface TagChanges {
  type: EntityType;
  id: string;
  add: readonly string[];
  remove: readonly string[];
  actor: string;
}

export interface TagChangesResult {
  changed: boolean;
  added: { tag: string; source: string; membershipChanged: boolean }[];
  removed: { tag: string; source: string; membershipChanged: boolean }[];
  tags: EntityTag[];
}

function namesOf(raw: readonly string[], field: string): string[] {
  const seen = new Map<string, string>();
  raw.forEach((r, i) => {
    const name = normalizeTagName(r, `${field}/${i}`);
    if (!seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
  });
  return [...seen.values()];
}

/**
 * A person's edit of one entity's tags, applied as one change: every removal
 * (all claims of the tag, as removeTag) and every addition (a manual claim,
 * the tag made on first use, as applyTag) commit together or not at all, so
 * a profile's Save never leaves half its edit behind.
 */
export async function changeTags(db: DbOrTx, change: TagChanges, hooks: TagHooks): Promise<TagChangesResult> {
  const add = namesOf(change.add, "body/add");
  const remove = namesOf(change.remove, "body/remove");
  if (add.length + remove.length > MAX_TAG_CHANGES) {
    throw new InputError(`one request changes at most ${MAX_TAG_CHANGES} tags; use /v1/tags/bulk for more`, {
      details: { field: "body" },
    });
  }
  const both = add.find((a) => remove.some((r) => r.toLowerCase() === a.toLowerCase()));
  if (both !== undefined) {
    throw new InputError(`tag ${JSON.stringify(both)} is both added and removed; keep it in one list`, {
      details: { field: "body/remove" },
    });
  }
  const result = await inTransaction(db, async (tx) => {
    if (!(await lockEntity(tx, change.type, change.id))) throw entityNotFound(change.type, change.id);
    const names = new Map<number, string>();
    const existing = await findTags(tx, remove);
    const removeIds = [...existing.values()].map((t) => {
      names.set(t.id, t.name);
      return t.id;
    });
    const removed =
      removeIds.length === 0
        ? []
        : await removeClaims(tx, {
            type: change.type,
            actor: change.actor,
            note: { reason: "removed by hand" },
            pairs: entityTagPairs(change.id, removeIds),
          });
    const addIds: number[] = [];
    for (const name of add) {
      const tag = await ensureTag(tx, name);
      names.set(tag.id, tag.name);
      addIds.push(tag.id);
    }
    const added =
      addIds.length === 0
        ? []
        : await addClaims(tx, {
            type: change.type,
            source: "manual",
            actor: change.actor,
            note: { reason: "added by hand" },
            pairs: entityTagPairs(change.id, addIds),
          });
    const shape = (c: { tag_id: number; source: string; membership_changed: boolean }) => ({
      tag: names.get(c.tag_id) ?? String(c.tag_id),
      source: c.source,
      membershipChanged: c.membership_changed,
    });
    return {
      changed: added.length + removed.length > 0,
      added: added.map(shape),
      removed: removed.map(shape),
      tags: await entityTags(tx, change.type, change.id),
    };
  });
  if ([...result.added, ...result.removed].some((c) => c.membershipChanged)) {
    await reportChanged(hooks, change.type, [change.id]);
  }
  return result;
}
