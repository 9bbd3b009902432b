import { findFact } from "./catalog.ts";
import type { EntityInput } from "./fact.ts";

/** What facts are computed from, where their callers load and pass it. */
export type { EntityInput } from "./fact.ts";

/** One fact with one set of params that a rule needs, e.g. activeDays{days:30}. */
export interface FactRequest {
  key: string;
  fact: string;
  params: Record<string, unknown>;
}

/** A stable key for a fact and its params: `activeDays{"days":30}`. */
export function factKey(fact: string, params: Record<string, unknown> | undefined): string {
  const spec = findFact(fact);
  const names = spec ? Object.keys(spec.params).sort() : Object.keys(params ?? {}).sort();
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    const value = params?.[name];
    if (value !== undefined && value !== null && value !== "") picked[name] = value;
  }
  return Object.keys(picked).length === 0 ? fact : `${fact}${JSON.stringify(picked)}`;
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
  for (const req of requests) {
    const fact = findFact(req.fact);
    if (!fact) throw new Error(`unknown fact ${req.fact}`);
    values[req.key] = fact.value(entity, req.params, today);
  }
  return values;
}

/** The widest activity window the requests need (0 when none reads rollups). */
export function widestWindow(requests: FactRequest[]): number {
  let widest = 0;
  for (const r of requests) {
    if (findFact(r.fact)?.params.days?.type === "days") widest = Math.max(widest, Number(r.params.days));
  }
  return widest;
}
