/**
 * The fact catalog: every fact a rule may test, which entities it applies to,
 * its params and the type of its value. Validation, evaluation, explanations
 * and SQL compilation all read this one table.
 */
export type EntityType = "user" | "account";
export const entityTypes: readonly EntityType[] = ["user", "account"];

export type FactValueType = "number" | "string" | "stringArray" | "object";

export interface ParamSpec {
  type: "days" | "string";
  required: boolean;
  description: string;
}

export interface FactSpec {
  name: string;
  targets: readonly EntityType[];
  params: Readonly<Record<string, ParamSpec>>;
  valueType: FactValueType;
  /** True when the value may be null (a null fails every comparison but `equal null`). */
  nullable: boolean;
  /** Allowed values for enumerated string facts. */
  enumValues?: readonly string[];
  /** Object facts are tested through `path` (a JSONPath such as `$.plan`). */
  usesPath?: boolean;
  description: string;
}

/** Windows are whole calendar days; a window longer than this is refused. */
export const MAX_WINDOW_DAYS = 3660;

const days: ParamSpec = {
  type: "days",
  required: true,
  description: "window length in calendar days, ending today",
};

export const factCatalog: Readonly<Record<string, FactSpec>> = {
  daysSinceCreated: {
    name: "daysSinceCreated",
    targets: ["user"],
    params: {},
    valueType: "number",
    nullable: false,
    description: "calendar days from the user's created_at date to today",
  },
  activeDays: {
    name: "activeDays",
    targets: ["user", "account"],
    params: { days },
    valueType: "number",
    nullable: false,
    description: "distinct dates in the window with at least one event (an account's include its users')",
  },
  daysSinceLastActive: {
    name: "daysSinceLastActive",
    targets: ["user", "account"],
    params: {},
    valueType: "number",
    nullable: true,
    description: "today minus the last active date on or before today; null when never active",
  },
  eventCount: {
    name: "eventCount",
    targets: ["user", "account"],
    params: {
      days,
      activity: { type: "string", required: false, description: "only events of this activity" },
      module: { type: "string", required: false, description: "only events of this module" },
    },
    valueType: "number",
    nullable: false,
    description: "sum of event counts in the window, optionally for one activity and/or module",
  },
  modulesUsed: {
    name: "modulesUsed",
    targets: ["user", "account"],
    params: { days },
    valueType: "stringArray",
    nullable: false,
    description: "the distinct modules used in the window",
  },
  activeUsers: {
    name: "activeUsers",
    targets: ["account"],
    params: { days },
    valueType: "number",
    nullable: false,
    description: "users of the account with at least one active date in the window",
  },
  userCount: {
    name: "userCount",
    targets: ["account"],
    params: {},
    valueType: "number",
    nullable: false,
    description: "users in the account",
  },
  daysSinceProvisioned: {
    name: "daysSinceProvisioned",
    targets: ["account"],
    params: {},
    valueType: "number",
    nullable: false,
    description: "calendar days from the account's provisioned_at date to today",
  },
  contractStatus: {
    name: "contractStatus",
    targets: ["account"],
    params: {},
    valueType: "string",
    nullable: true,
    enumValues: ["trial", "paying", "churned"],
    description: "the account's contract status",
  },
  health: {
    name: "health",
    targets: ["account"],
    params: {},
    valueType: "string",
    nullable: true,
    enumValues: ["good", "average", "poor"],
    description: "the health label, given or derived from the score (poor < 40 <= average < 70 <= good)",
  },
  healthScore: {
    name: "healthScore",
    targets: ["account"],
    params: {},
    valueType: "number",
    nullable: true,
    description: "the health score, 0 to 100",
  },
  daysUntilRenewal: {
    name: "daysUntilRenewal",
    targets: ["account"],
    params: {},
    valueType: "number",
    nullable: true,
    description: "renewal_date minus today; null without a renewal date",
  },
  attributes: {
    name: "attributes",
    targets: ["user", "account"],
    params: {},
    valueType: "object",
    nullable: false,
    usesPath: true,
    description: "the entity's attributes object (test a field with `path`, e.g. $.plan)",
  },
  account: {
    name: "account",
    targets: ["user"],
    params: {},
    valueType: "object",
    nullable: false,
    usesPath: true,
    description:
      "the user's account: id, name, contractStatus, health, healthScore, renewalDate, provisionedAt, attributes (use `path`)",
  },
  tags: {
    name: "tags",
    targets: ["user", "account"],
    params: {},
    valueType: "stringArray",
    nullable: false,
    description: "names of the tags the entity has before this run",
  },
};

export const factNames = Object.keys(factCatalog);

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
