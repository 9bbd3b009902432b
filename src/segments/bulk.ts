import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { type BulkRequest, type BulkResult, bulkTagWithin, MAX_BULK_IDS, tooManyIds } from "../tags/bulk.ts";
import { reportChanged, type TagHooks } from "../tags/changes.ts";
import { type EvaluationClock, resolveSegment, type SegmentQuery, segmentBatches } from "./query.ts";

export interface SegmentBulkResult extends BulkResult {
  unknownTags: string[];
}

/**
 * Adds or removes a tag on every entity of a segment. The segment is resolved
 * and tagged in one transaction, with the same limit and semantics as a bulk
 * request listing the ids; the hooks hear of the entities that gained or
 * lost the tag once the transaction has committed.
 */
export async function bulkTagSegment(
  db: DbOrTx,
  q: SegmentQuery,
  p: EvaluationClock & Pick<BulkRequest, "action" | "tag" | "actor">,
  hooks: TagHooks,
): Promise<SegmentBulkResult> {
  let changed: string[] = [];
  const result = await inTransaction(db, async (tx) => {
    const segment = await resolveSegment(tx, q);
    const ids: string[] = [];
    for await (const batch of segmentBatches(tx, segment, p)) {
      ids.push(...batch);
      if (ids.length > MAX_BULK_IDS) throw tooManyIds(MAX_BULK_IDS, "the segment has more than");
    }
    const tagged = await bulkTagWithin(tx, {
      action: p.action,
      type: q.type,
      tag: p.tag,
      ids,
      actor: p.actor,
      reason: p.action === "add" ? "added to a segment in bulk" : "removed from a segment in bulk",
      onMembershipChanged: (changedIds) => {
        changed = changedIds;
      },
    });
    return { ...tagged, unknownTags: segment.unknownTags };
  });
  await reportChanged(hooks, q.type, changed);
  return result;
}
