import { entityTags } from "../claims/entity-tags.ts";
import type { DbOrTx } from "../db/client.ts";
import { NotFoundError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { computeFacts } from "../facts/compute.ts";
import { entityExists } from "../facts/sql/entities.ts";
import { loadEntityBatch } from "../facts/sql/entity-batch.ts";
import { calendarDate } from "../facts/time.ts";
import { fieldSizeProblem } from "../limits.ts";
import type { LoadedRule } from "../rules/types.ts";
import { claimedAfter, decide } from "./decide.ts";
import { type Evaluation, type ExplainedCondition, RuleEvaluator } from "./evaluate.ts";
import { withWords } from "./explanation-words.ts";

export interface EvaluationClock {
  asOf: Date;
  timezone: string;
}

/**
 * Evaluates a rule (or conditions made into one) for the given entities as of
 * an instant, the way a run's json-rules-engine path does: the entities that
 * existed then, each with its evaluation, in id order. Entities created after
 * the instant did not exist then and are left out.
 */
export async function evaluateEntities(
  db: DbOrTx,
  evaluator: RuleEvaluator,
  type: EntityType,
  ids: string[],
  clock: EvaluationClock,
): Promise<{ id: string; evaluation: Evaluation }[]> {
  const today = calendarDate(clock.asOf, clock.timezone);
  const inputs = await loadEntityBatch(
    db,
    { type, asOf: clock.asOf, today, timezone: clock.timezone, requests: evaluator.requests },
    { ids },
  );
  const out: { id: string; evaluation: Evaluation }[] = [];
  for (const input of inputs) {
    out.push({
      id: input.id,
      evaluation: await evaluator.evaluate(computeFacts(input, evaluator.requests, today)),
    });
  }
  return out;
}

/** One rule's verdict on an entity: absent (created after the instant), or its evaluation. */
export type RuleVerdict =
  | { rule: string; name: string; tag: string; matched: false; reason: string }
  | {
      rule: string;
      /** The rule's name, as its file gives it. */
      name: string;
      tag: string;
      enabled: boolean;
      matched: boolean;
      exitMatched?: boolean;
      /** Whether the rule would hold its claim after a run now (suppressions aside). */
      wouldHaveTag: boolean;
      conditions: ExplainedCondition;
      exitConditions?: ExplainedCondition;
    };

export interface EntityExplanation {
  entity: { type: EntityType; id: string };
  asOf: string;
  today: string;
  /** Whether the entity existed at the as-of instant. */
  existed: boolean;
  rules: RuleVerdict[];
  tags: { name: string; claims: { source: string; actor: string | null; since: string }[] }[];
}

/**
 * Why an entity has or lacks each rule's tag as of an instant: every rule of
 * its type evaluated on it, and every claim it holds.
 */
export async function explainEntity(
  db: DbOrTx,
  rules: LoadedRule[],
  entity: { type: EntityType; id: string },
  clock: EvaluationClock,
): Promise<EntityExplanation> {
  const { type, id } = entity;
  if (!(await entityExists(db, type, id))) {
    // An id no entity can have is not quoted back whole (it may be megabytes).
    const tooLarge = fieldSizeProblem("id", id);
    throw new NotFoundError(
      tooLarge ? `no ${type} has this id: it ${tooLarge}` : `no ${type} with id ${JSON.stringify(id)}`,
    );
  }
  const tags = await entityTags(db, type, id);
  const out: EntityExplanation = {
    entity: { type, id },
    asOf: clock.asOf.toISOString(),
    today: calendarDate(clock.asOf, clock.timezone),
    existed: true,
    rules: [],
    tags: tags.map((t) => ({
      name: t.name,
      claims: t.claims.map((c) => ({ source: c.source, actor: c.actor, since: c.since })),
    })),
  };
  for (const rule of rules.filter((r) => r.definition.target === type)) {
    const def = rule.definition;
    const [found] = await evaluateEntities(db, new RuleEvaluator(rule), type, [id], clock);
    if (!found) {
      out.existed = false;
      out.rules.push({
        rule: def.id,
        name: def.name,
        tag: def.tag,
        matched: false,
        reason: "created after the as-of instant",
      });
      continue;
    }
    const { evaluation } = found;
    const held = tags.some((t) => t.claims.some((c) => c.source === `rule:${def.id}`));
    out.rules.push({
      rule: def.id,
      name: def.name,
      tag: def.tag,
      enabled: def.enabled,
      matched: evaluation.matched,
      ...(evaluation.exitMatched === undefined ? {} : { exitMatched: evaluation.exitMatched }),
      wouldHaveTag: claimedAfter(
        decide({ matched: evaluation.matched, exitMatched: evaluation.exitMatched, held, suppressed: false }),
      ),
      // Each leaf with its words: the JSON form carries what the terminal shows.
      conditions: withWords(evaluation.conditions),
      ...(evaluation.exitConditions ? { exitConditions: withWords(evaluation.exitConditions) } : {}),
    });
  }
  return out;
}
