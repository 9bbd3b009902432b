/**
 * What a fact is: its catalog entry (which entities it applies to, its params,
 * the type of its value), its value computed in JavaScript from an entity's
 * loaded rows, its value as a SQL expression in a compiled rule, and how its
 * value and conditions on it read in words. Each fact is one module holding all four (src/facts/<fact>.ts); catalog.ts lists them.
 */
import type { SQL } from "drizzle-orm";
import type { FactWords } from "./words.ts";

export type EntityType = "user" | "account";
export const entityTypes: readonly EntityType[] = ["user", "account"];

export type FactValueType = "number" | "string" | "stringArray" | "object";

export interface ParamSpec {
  type: "days" | "string";
  required: boolean;
  description: string;
}

/** A fact's entry in the catalog, which validation and the rule schema read. */
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

/** The `days` param of a fact over a window of activity. */
export const windowParam: ParamSpec = {
  type: "days",
  required: true,
  description: "window length in calendar days, ending today",
};

/** A daily rollup row of one entity (module "" for none). */
export interface DailyActivity {
  day: string;
  activity: string;
  module: string;
  count: number;
}

/**
 * Everything facts are computed from, for one entity, as loaded for a batch.
 * Days are calendar dates in the workspace time zone.
 */
export interface EntityInput {
  id: string;
  type: EntityType;
  /** created_at (user) or provisioned_at (account), as a calendar date. */
  createdDay: string;
  attributes: Record<string, unknown>;
  /** Rollups inside the widest window the rule needs (days after today excluded). */
  activity: DailyActivity[];
  /** The last active date on or before today, or null when never active. */
  lastActiveDay: string | null;
  tags: string[];
  // accounts
  contractStatus?: string | null;
  health?: string | null;
  healthScore?: number | null;
  renewalDate?: string | null;
  userCount?: number;
  /** For each user of the account active in the widest window: their last active date. */
  activeUserDays?: string[];
  // users
  account?: Record<string, unknown>;
}

type FactParams = Record<string, unknown>;

export interface Fact extends FactSpec {
  /**
   * The value for one entity as of `today` (DESIGN section 3), as rules
   * compare it. Pure: the same input always gives the same value.
   */
  value(entity: EntityInput, params: FactParams, today: string): unknown;
  /**
   * The same value as a SQL expression over the entity row `e` (typed as the
   * catalog says, before any path), reading what else it needs through `q`.
   * Params of type "days" are whole numbers of at least 1 by then.
   */
  sql(q: FactSql, params: FactParams): SQL;
  /** Its value and conditions on it in words, for explanations people read. */
  words: FactWords;
}

/**
 * What a fact's SQL expression may read besides the entity row `e`. Each
 * window, summary and join is added to the statement once, however many
 * facts read it.
 */
export interface FactSql {
  type: EntityType;
  /** Today's date, as a date expression. */
  today: SQL;
  timezone: string;
  /** The number of the fact column being built, unique in the statement. */
  column: number;
  /** The aggregates over the entity's rollup rows of the last `days` days. */
  window(days: number): RollupWindow;
  /** The entity's activity summary row (its active-day bitmap); null columns when it has none. */
  summary(): SQL;
  /** Adds a join to the statement (once per alias) and returns its alias. */
  join(join: FactJoin): SQL;
}

/** One aggregate query over a window of rollup rows `d`, grouped by entity. */
export interface RollupWindow {
  /** How many aggregates it computes so far. */
  readonly size: number;
  /**
   * Adds an aggregate `agg` named `name` (once per name), which reads the rows
   * matching `rows` (null: every row), and returns the column that holds it.
   */
  part(name: string, agg: SQL, rows: SQL | null): SQL;
}

/** A join a fact adds to the statement, with the CTE it joins when it needs one. */
export interface FactJoin {
  /** The fact that adds it, which says where it goes among the joins. */
  fact: string;
  alias: string;
  cte?: (scope: JoinScope) => SQL;
  join: (scope: JoinScope) => SQL;
}

/** What a join reads besides its own tables. */
export interface JoinScope {
  type: EntityType;
  /** Today's date, as a date expression. */
  today: SQL;
  /** The as-of instant (ISO 8601). */
  asOf: string;
  /** The conditions, each starting with `and`, that keep an entity id column to the statement's entities. */
  only(id: SQL): SQL;
}
