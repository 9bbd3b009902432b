import type { EntityType, OperatorName } from "../facts/catalog.ts";

/** A leaf test, in json-rules-engine's form. */
export interface FactCondition {
  fact: string;
  operator: OperatorName;
  value: unknown;
  params?: Record<string, unknown>;
  path?: string;
  name?: string;
}

export type Condition =
  | FactCondition
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { condition: string };

/** The top of a rule's conditions: json-rules-engine requires all, any, not or a reference. */
export type TopLevelCondition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { condition: string };

export interface RuleSchedule {
  cron: string;
  timezone: string;
}

/** A rule file after validation. */
export interface RuleDefinition {
  id: string;
  name: string;
  description?: string;
  tag: string;
  target: EntityType;
  enabled: boolean;
  schedule?: RuleSchedule;
  conditions: TopLevelCondition;
  /** When present, a tagged entity keeps the tag until these match. */
  exitConditions?: TopLevelCondition;
  /** Named conditions that `{ "condition": name }` references point to. */
  sharedConditions?: Record<string, TopLevelCondition>;
  /** Share of the rule's claims one run may remove before it is held (0..1); default from config. */
  removalGuard?: number;
}

/** A validated rule with where it came from and its content hash. */
export interface LoadedRule {
  definition: RuleDefinition;
  /** Content hash of the canonical definition: the rule's version. */
  version: string;
  file: string;
}
