import type { AccountUpdate } from "./types.ts";

/*
 * Reading named traits the way sources send them: snake_case or camelCase,
 * with values checked against what the accounts and users tables hold. A
 * value that cannot be stored is an error naming the trait, not a silent drop.
 */

export class TraitError extends Error {}

type Traits = Record<string, unknown>;

/** The first of `names` present (not null or undefined) in traits: its name and value. */
export function pick(traits: Traits, names: readonly string[]): { name: string; value: unknown } | undefined {
  for (const name of names) {
    const value = traits[name];
    if (value !== undefined && value !== null) return { name, value };
  }
  return undefined;
}

export function textTrait(traits: Traits, names: readonly string[]): string | undefined {
  const found = pick(traits, names);
  if (!found) return undefined;
  if (typeof found.value === "string") return found.value;
  if (typeof found.value === "number" || typeof found.value === "boolean") return String(found.value);
  throw new TraitError(`traits.${found.name} must be text`);
}

export function instantTrait(
  traits: Traits,
  names: readonly string[],
  parse: (v: unknown) => number | undefined,
): string | undefined {
  const found = pick(traits, names);
  if (!found) return undefined;
  const ms = typeof found.value === "number" ? found.value : parse(found.value);
  if (ms === undefined || !inStoredRange(ms)) {
    throw new TraitError(`traits.${found.name} must be an ISO-8601 date, not ${JSON.stringify(found.value)}`);
  }
  return new Date(ms).toISOString();
}

/** Years 1 to 9999: what a timestamptz written from ISO text holds. */
export function inStoredRange(ms: number): boolean {
  const year = new Date(ms).getUTCFullYear();
  return Number.isFinite(ms) && year >= 1 && year <= 9999;
}

const contractStatuses = ["trial", "paying", "churned"] as const;
const healthLabels = ["good", "average", "poor"] as const;

/** The account fields a group's traits name; the names they came under, to keep out of attributes. */
export function accountFields(traits: Traits, parse: (v: unknown) => number | undefined) {
  const used = new Set<string>();
  const take = (names: readonly string[]) => {
    for (const n of names) used.add(n);
    return names;
  };
  const fields: Partial<AccountUpdate> = {};
  const name = textTrait(traits, take(["name"]));
  if (name !== undefined) fields.name = name;
  const provisioned = instantTrait(
    traits,
    take(["createdAt", "created_at", "provisioned_at", "provisionedAt"]),
    parse,
  );
  if (provisioned !== undefined) fields.provisionedAt = provisioned;
  const status = pick(traits, take(["contract_status", "contractStatus"]));
  if (status) {
    const v = typeof status.value === "string" ? status.value.toLowerCase() : status.value;
    if (!(contractStatuses as readonly unknown[]).includes(v)) {
      throw new TraitError(
        `traits.${status.name} must be trial, paying or churned, not ${JSON.stringify(status.value)}`,
      );
    }
    fields.contractStatus = v as AccountUpdate["contractStatus"];
  }
  const renewal = pick(traits, take(["renewal_date", "renewalDate"]));
  if (renewal) {
    const ms = parse(renewal.value);
    const day = typeof renewal.value === "string" ? renewal.value.slice(0, 10) : "";
    // The parser rolls 2026-02-30 over into March; Postgres refuses it as a date, so it is refused here.
    const real = Date.parse(`${day}T00:00:00Z`);
    if (
      ms === undefined ||
      !inStoredRange(ms) ||
      !Number.isFinite(real) ||
      new Date(real).toISOString().slice(0, 10) !== day
    ) {
      throw new TraitError(
        `traits.${renewal.name} must be a date (YYYY-MM-DD), not ${JSON.stringify(renewal.value)}`,
      );
    }
    fields.renewalDate = day;
  }
  const score = pick(traits, take(["health_score", "healthScore"]));
  if (score) {
    const v =
      typeof score.value === "string" && score.value.trim() !== "" ? Number(score.value) : score.value;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 100) {
      throw new TraitError(
        `traits.${score.name} must be a number from 0 to 100, not ${JSON.stringify(score.value)}`,
      );
    }
    fields.healthScore = v;
  }
  const health = pick(traits, take(["health"]));
  if (health) {
    const v = typeof health.value === "string" ? health.value.toLowerCase() : health.value;
    if (!(healthLabels as readonly unknown[]).includes(v)) {
      throw new TraitError(
        `traits.${health.name} must be good, average or poor, not ${JSON.stringify(health.value)}`,
      );
    }
    fields.health = v as AccountUpdate["health"];
  }
  return { fields, used };
}

/** The traits not read as fields: they become attributes. */
export function otherTraits(traits: Traits, used: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(traits)) {
    // Assigned, it would set the object's prototype instead of adding an attribute: lost without a word.
    if (k === "__proto__")
      throw new TraitError('traits key "__proto__" cannot be an attribute name: rename it');
    if (!used.has(k) && v !== undefined) out[k] = v;
  }
  return out;
}
