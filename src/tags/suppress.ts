import { ensureTag } from "../claims/sql/tags.ts";
import { normalizeTagName } from "../claims/tag-name.ts";
import { removeClaims, singlePair } from "../claims/write-changes.ts";
import type { DbOrTx } from "../db/client.ts";
import { inTransaction } from "../db/transaction.ts";
import { InputError, NotFoundError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { lockEntity } from "../facts/sql/entities.ts";
import { suggest } from "../rules/suggest.ts";
import { reportChanged, type TagHooks } from "./changes.ts";
import { entityNotFound } from "./manual.ts";
import {
  entitySuppressions,
  insertSuppression,
  knownRuleIds,
  markLifted,
  ruleKnown,
  ruleSourceFilter,
  type SuppressionRow,
  suppressionById,
} from "./sql/suppressions.ts";

export type { SuppressionRow as Suppression };

export interface SuppressRequest {
  type: EntityType;
  id: string;
  tag: string;
  /** Suppress only this rule's claim; every rule's when absent. */
  ruleId?: string | null;
  /** When the suppression ends by itself; never when absent. */
  until?: Date | null;
  reason?: string | null;
  actor: string;
  now?: Date;
}

export interface SuppressResult {
  suppression: SuppressionRow;
  /** Rule claims taken away now (the rule would otherwise keep them until its next run). */
  removedClaims: string[];
}

/**
 * Overrides rules for one tag on one entity: the suppressed rule (or every
 * rule) loses its claim now and does not claim the tag again until the
 * suppression ends or is lifted. Claims by people (manual, bulk, file) stay.
 * When a claim went, the entity may have lost the tag, which the hooks hear.
 */
export async function suppress(db: DbOrTx, req: SuppressRequest, hooks: TagHooks): Promise<SuppressResult> {
  const name = normalizeTagName(req.tag);
  const now = req.now ?? new Date();
  if (req.until && req.until.getTime() <= now.getTime()) {
    throw new InputError(
      `until ${req.until.toISOString()} is not in the future; leave it out to suppress with no end`,
      {
        details: { field: "until" },
      },
    );
  }
  const ruleId = req.ruleId ?? null;
  const result = await inTransaction(db, async (tx) => {
    if (ruleId !== null && !(await ruleKnown(tx, ruleId))) {
      const known = await knownRuleIds(tx);
      const near = suggest(ruleId, known);
      throw new InputError(
        `unknown rule ${JSON.stringify(ruleId)}${near ? ` (did you mean ${near}?)` : ""}; known rules: ${known.join(", ") || "none yet (run the rules once)"}`,
        { code: "unknown_rule", details: { field: "rule" } },
      );
    }
    if (!(await lockEntity(tx, req.type, req.id))) throw entityNotFound(req.type, req.id);
    const tag = await ensureTag(tx, name);
    const id = await insertSuppression(tx, {
      tagId: tag.id,
      type: req.type,
      id: req.id,
      ruleId,
      until: req.until ?? null,
      reason: req.reason ?? null,
      actor: req.actor,
    });
    const removed = await removeClaims(tx, {
      type: req.type,
      actor: req.actor,
      note: { reason: "suppressed by hand", suppressionId: id },
      pairs: singlePair(req.id, tag.id),
      sourceFilter: ruleSourceFilter(ruleId),
    });
    const suppression = await suppressionById(tx, id, now);
    return { suppression: suppression!, removedClaims: removed.map((c) => c.source) };
  });
  if (result.removedClaims.length > 0) await reportChanged(hooks, req.type, [req.id]);
  return result;
}

export interface LiftResult {
  suppression: SuppressionRow;
  /** Whether this call lifted it (false: it was lifted already). */
  changed: boolean;
}

/**
 * Lifts a suppression: the rule may claim the tag again, on its next run or
 * at once when the hooks re-evaluate the entity. They hear of it (a `lift`)
 * only when the suppression was in force until now: one that had expired
 * held nothing back any more. Lifting twice changes nothing.
 */
export async function liftSuppression(
  db: DbOrTx,
  p: { id: number; actor: string; now?: Date },
  hooks: TagHooks,
): Promise<LiftResult> {
  const { released, ...result } = await inTransaction(db, async (tx) => {
    const existing = await suppressionById(tx, p.id, p.now ?? new Date());
    if (!existing) throw new NotFoundError(`no suppression with id ${p.id}`, { details: { id: p.id } });
    const changed = await markLifted(tx, p.id, p.actor);
    const suppression = await suppressionById(tx, p.id, p.now ?? new Date());
    return { suppression: suppression!, changed, released: changed && existing.status === "active" };
  });
  const { entityType, entityId } = result.suppression;
  if (released) await reportChanged(hooks, entityType, [entityId], "lift");
  return result;
}

export async function suppressionsOf(
  db: DbOrTx,
  p: { type: EntityType; id: string; now?: Date; all?: boolean },
): Promise<SuppressionRow[]> {
  return entitySuppressions(db, { ...p, now: p.now ?? new Date() });
}
