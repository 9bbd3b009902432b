import { type SQL, sql } from "drizzle-orm";

/**
 * What a rule does with its claim on one entity (DESIGN sections 1 and 2).
 * Every path that evaluates a rule decides here: json-rules-engine per entity
 * through decide(), the compiled statement through its SQL twin wantSql(),
 * written side by side so the two read alike. The property tests hold them
 * to the same answer.
 */

/** The inputs of a decision, as booleans (decide) or as SQL boolean expressions (wantSql). */
export interface DecisionInputs<T> {
  /** The rule's conditions hold. */
  matched: T;
  /** The rule's exit conditions hold; undefined when the rule has none. */
  exitMatched?: T;
  /** A person's suppression of the tag is in force for this rule on the entity. */
  suppressed: T;
  /** The rule holds its claim on the entity now. */
  held: T;
}

/** gain: the rule claims the tag; keep: it keeps its claim; lose: it drops it; none: it has none and takes none. */
export type Decision = "gain" | "keep" | "lose" | "none";

/**
 * A held claim of a rule with exit conditions stays until they match
 * (hysteresis, so a tag does not flap at a threshold); otherwise the rule
 * wants the tag while its conditions match. A suppression in force overrides
 * the rule until it ends or is lifted.
 */
export function decide(i: DecisionInputs<boolean>): Decision {
  const wants = (i.held && i.exitMatched !== undefined ? !i.exitMatched : i.matched) && !i.suppressed;
  if (i.held) return wants ? "keep" : "lose";
  return wants ? "gain" : "none";
}

/** Whether the entity has the rule's claim once the decision is applied. */
export function claimedAfter(d: Decision): boolean {
  return d === "gain" || d === "keep";
}

/** decide() in SQL: true where the entity has the rule's claim after the run (gain or keep). */
export function wantSql(i: DecisionInputs<SQL>): SQL {
  const whileHeld = i.exitMatched === undefined ? i.matched : sql`(not ${i.exitMatched})`;
  return sql`(case when ${i.held} then ${whileHeld} else ${i.matched} end) and not ${i.suppressed}`;
}
