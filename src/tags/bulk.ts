import { ensureTag, findTag } from "../claims/sql/tags.ts";
import { normalizeTagName } from "../claims/tag-name.ts";
import { addClaimsCounted, idTablePairs, removeClaimsCounted } from "../claims/write-changes.ts";
import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { createIdTable, lockEntities, unknownIds } from "../facts/sql/entities.ts";
import { fieldSizeProblem } from "../limits.ts";
import { reportChanged, type TagHooks } from "./changes.ts";

/** Most ids one bulk request may name: one transaction must stay short. */
export const MAX_BULK_IDS = 100_000;

export type BulkAction = "add" | "remove";

export interface BulkRequest {
  action: BulkAction;
  type: EntityType;
  tag: string;
  ids: readonly string[];
  actor: string;
  /** What the change is recorded as in history (default: a bulk change by hand). */
  reason?: string;
}

export interface BulkResult {
  action: BulkAction;
  entityType: EntityType;
  tag: string;
  /** Distinct ids in the request. */
  requested: number;
  /** Claims added (source `bulk`) or removed (every source). */
  claimsChanged: number;
  /** Entities that gained or lost the tag itself. */
  membershipsChanged: number;
  /** Entities where nothing changed (already claimed in bulk, or without the tag). */
  unchanged: number;
}

export function tooManyIds(count: number, what = "the request names"): InputError {
  return new InputError(
    `${what} ${count} ids; one bulk change takes at most ${MAX_BULK_IDS.toLocaleString("en-US")}: split it into several requests`,
    { code: "too_many_ids", details: { field: "ids", count, max: MAX_BULK_IDS } },
  );
}

export function unknownIdsError(type: EntityType, ids: string[]): InputError {
  const shown = ids
    .slice(0, 10)
    .map((id) => JSON.stringify(id))
    .join(", ");
  return new InputError(
    `${ids.length} id${ids.length === 1 ? " names" : "s name"} no ${type} (${shown}${ids.length > 10 ? ", ..." : ""}); nothing was changed`,
    { code: "unknown_ids", details: { entityType: type, unknownIds: ids } },
  );
}

/**
 * Adds or removes one tag on a list of entities in one transaction, with
 * set-based SQL (the ids travel as one parameter into a temporary table).
 * An id naming no entity refuses the whole request, and every such id is
 * listed. Adding makes `bulk` claims; removing takes every claim on the tag,
 * as a removal by hand does. The hooks hear of the entities that gained or
 * lost the tag.
 */
export async function bulkTag(db: DbOrTx, req: BulkRequest, hooks: TagHooks): Promise<BulkResult> {
  let changed: string[] = [];
  const result = await bulkTagWithin(db, {
    ...req,
    onMembershipChanged: (ids) => {
      changed = ids;
    },
  });
  await reportChanged(hooks, req.type, changed);
  return result;
}

/**
 * bulkTag's change, for a caller that makes it part of a transaction of its
 * own: it is told the entities that gained or lost the tag before anything
 * commits, and reports them to its hooks once its transaction has committed.
 */
export async function bulkTagWithin(
  db: DbOrTx,
  req: BulkRequest & { onMembershipChanged: (ids: string[]) => void },
): Promise<BulkResult> {
  const name = normalizeTagName(req.tag);
  if (req.ids.length > MAX_BULK_IDS) throw tooManyIds(req.ids.length);
  for (const [i, id] of req.ids.entries()) {
    if (typeof id !== "string" || id === "") {
      throw new InputError(`ids[${i}] must be a non-empty string`, {
        details: { field: `ids/${i}` },
      });
    }
    // No stored id is longer (limits.ts); a longer one would fail the id table's index with a 500.
    const tooLarge = fieldSizeProblem("id", id);
    if (tooLarge) throw new InputError(`ids[${i}] ${tooLarge}`, { details: { field: `ids/${i}` } });
  }
  return inTransaction(db, async (tx) => {
    const requested = await createIdTable(tx, "bulk_ids", req.ids);
    const unknown = await unknownIds(tx, req.type, "bulk_ids");
    if (unknown.length > 0) throw unknownIdsError(req.type, unknown);
    await lockEntities(tx, req.type, "bulk_ids");
    const base = { action: req.action, entityType: req.type, requested };
    if (req.action === "add") {
      const tag = await ensureTag(tx, name);
      const counts = await addClaimsCounted(tx, {
        type: req.type,
        source: "bulk",
        actor: req.actor,
        note: { reason: req.reason ?? "added in bulk" },
        pairs: idTablePairs("bulk_ids", tag.id),
      });
      req.onMembershipChanged?.(counts.changedIds);
      return {
        ...base,
        tag: tag.name,
        claimsChanged: counts.claims,
        membershipsChanged: counts.memberships,
        unchanged: requested - counts.claims,
      };
    }
    const tag = await findTag(tx, name);
    if (!tag) return { ...base, tag: name, claimsChanged: 0, membershipsChanged: 0, unchanged: requested };
    const counts = await removeClaimsCounted(tx, {
      type: req.type,
      actor: req.actor,
      note: { reason: req.reason ?? "removed in bulk" },
      pairs: idTablePairs("bulk_ids", tag.id),
    });
    req.onMembershipChanged?.(counts.changedIds);
    return {
      ...base,
      tag: tag.name,
      claimsChanged: counts.claims,
      membershipsChanged: counts.memberships,
      unchanged: requested - counts.memberships,
    };
  });
}
