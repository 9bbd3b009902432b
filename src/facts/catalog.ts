/**
 * The fact catalog: every fact a rule may test, one module each. Validation,
 * the rule schema, evaluation, explanations and SQL compilation all read it.
 * A new fact is a new module and one line in `facts` below.
 */
import { account } from "./account.ts";
import { activeDays } from "./active-days.ts";
import { activeUsers } from "./active-users.ts";
import { attributes } from "./attributes.ts";
import { contractStatus } from "./contract-status.ts";
import { daysSinceCreated } from "./days-since-created.ts";
import { daysSinceLastActive } from "./days-since-last-active.ts";
import { daysSinceProvisioned } from "./days-since-provisioned.ts";
import { daysUntilRenewal } from "./days-until-renewal.ts";
import { eventCount } from "./event-count.ts";
import type { Fact } from "./fact.ts";
import { health } from "./health.ts";
import { healthScore } from "./health-score.ts";
import { modulesUsed } from "./modules-used.ts";
import { tags } from "./tags.ts";
import { userCount } from "./user-count.ts";

export {
  type EntityType,
  entityTypes,
  type FactSpec,
  type FactValueType,
  MAX_WINDOW_DAYS,
  type ParamSpec,
} from "./fact.ts";

/** In the order rule authors see them: the schema's completions and validation's lists. */
const facts: readonly Fact[] = [
  daysSinceCreated,
  activeDays,
  daysSinceLastActive,
  eventCount,
  modulesUsed,
  activeUsers,
  userCount,
  daysSinceProvisioned,
  contractStatus,
  health,
  healthScore,
  daysUntilRenewal,
  attributes,
  account,
  tags,
];

export const factCatalog: Readonly<Record<string, Fact>> = Object.fromEntries(facts.map((f) => [f.name, f]));

export const factNames = Object.keys(factCatalog);

/** The fact of that name, or undefined (never a property every object has, such as `constructor`). */
export function findFact(name: string): Fact | undefined {
  return Object.hasOwn(factCatalog, name) ? factCatalog[name] : undefined;
}

/** json-rules-engine's built-in operators, and the value each expects. */
export const operators = {
  equal: "any",
  notEqual: "any",
  lessThan: "number",
  lessThanInclusive: "number",
  greaterThan: "number",
  greaterThanInclusive: "number",
  in: "array",
  notIn: "array",
  contains: "scalar",
  doesNotContain: "scalar",
} as const;
export type OperatorName = keyof typeof operators;
export const operatorNames = Object.keys(operators) as OperatorName[];
