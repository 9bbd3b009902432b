import { type EntityType, factCatalog } from "./catalog.ts";
import { daysBetween, inWindow } from "./time.ts";

/** One fact with one set of params that a rule needs, e.g. activeDays{days:30}. */
export interface FactRequest {
  key: string;
  fact: string;
  params: Record<string, unknown>;
}

/** A stable key for a fact and its params: `activeDays{"days":30}`. */
export function factKey(fact: string, params: Record<string, unknown> | undefined): string {
  const spec = factCatalog[fact];
  const names = spec ? Object.keys(spec.params).sort() : Object.keys(params ?? {}).sort();
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    const value = params?.[name];
    if (value !== undefined && value !== null && value !== "") picked[name] = value;
  }
  return Object.keys(picked).length === 0 ? fact : `${fact}${JSON.stringify(picked)}`;
}

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

function days(params: Record<string, unknown>): number {
  return Number(params.days);
}

/**
 * The value of every requested fact for one entity as of `today` (DESIGN
 * section 3). Pure: the same input always gives the same values.
 */
export function computeFacts(
  entity: EntityInput,
  requests: FactRequest[],
  today: string,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const req of requests) values[req.key] = computeFact(entity, req, today);
  return values;
}

function computeFact(e: EntityInput, req: FactRequest, today: string): unknown {
  const p = req.params;
  switch (req.fact) {
    case "daysSinceCreated":
    case "daysSinceProvisioned":
      return daysBetween(today, e.createdDay);
    case "activeDays": {
      const active = new Set<string>();
      for (const a of e.activity) if (inWindow(a.day, today, days(p))) active.add(a.day);
      return active.size;
    }
    case "daysSinceLastActive":
      return e.lastActiveDay === null ? null : daysBetween(today, e.lastActiveDay);
    case "eventCount": {
      let sum = 0;
      for (const a of e.activity) {
        if (!inWindow(a.day, today, days(p))) continue;
        if (p.activity !== undefined && a.activity !== p.activity) continue;
        if (p.module !== undefined && a.module !== p.module) continue;
        sum += a.count;
      }
      return sum;
    }
    case "modulesUsed": {
      const modules = new Set<string>();
      for (const a of e.activity)
        if (a.module !== "" && inWindow(a.day, today, days(p))) modules.add(a.module);
      return [...modules].sort();
    }
    case "activeUsers":
      return (e.activeUserDays ?? []).filter((d) => inWindow(d, today, days(p))).length;
    case "userCount":
      return e.userCount ?? 0;
    case "contractStatus":
      return e.contractStatus ?? null;
    case "health":
      return e.health ?? null;
    case "healthScore":
      return e.healthScore ?? null;
    case "daysUntilRenewal":
      return e.renewalDate ? daysBetween(e.renewalDate, today) : null;
    case "attributes":
      return e.attributes;
    case "account":
      return e.account ?? null;
    case "tags":
      // Tag names are unique case-insensitively, so rules compare them in lower case.
      return [...new Set(e.tags.map((t) => t.toLowerCase()))].sort();
    default:
      throw new Error(`unknown fact ${req.fact}`);
  }
}

/** The widest activity window the requests need (0 when none reads rollups). */
export function widestWindow(requests: FactRequest[]): number {
  let widest = 0;
  for (const r of requests) {
    if (["activeDays", "eventCount", "modulesUsed", "activeUsers"].includes(r.fact))
      widest = Math.max(widest, days(r.params));
  }
  return widest;
}
