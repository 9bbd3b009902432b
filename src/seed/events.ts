import type { SeedAccount } from "./accounts.ts";
import type { Calendar } from "./calendar.ts";
import { type Rng, rngFor, Stream } from "./random.ts";
import type { SeedUser, Tier } from "./users.ts";
import { type ActivityKind, accountActivities, login, userActivities } from "./vocabulary.ts";

/**
 * One raw event row. The generator emits at most one row per (entity, day,
 * activity, module) and puts the day's repetitions in `count`, which keeps
 * the raw table about the size of its rollups.
 */
export interface SeedEvent {
  userId: string | null;
  accountId: string;
  activity: string;
  module: string | null;
  occurredAt: number;
  count: number;
}

interface TierProfile {
  /** Active days among the last 30, drawn uniformly from this range. */
  recent: readonly [number, number];
  /** Chance of activity on each earlier weekday (weekends less). */
  earlierRate: number;
  /** Weights of 0, 1, 2, 3 further activities after logging in. */
  extras: readonly number[];
}

const profiles: Record<Tier, TierProfile> = {
  power: { recent: [20, 28], earlierRate: 0.65, extras: [40, 35, 18, 7] },
  regular: { recent: [3, 11], earlierRate: 0.2, extras: [60, 30, 10] },
  occasional: { recent: [1, 3], earlierRate: 0.06, extras: [75, 22, 3] },
  lapsed: { recent: [0, 0], earlierRate: 0, extras: [75, 22, 3] },
  never: { recent: [0, 0], earlierRate: 0, extras: [] },
};

const WEEKEND_FACTOR = 0.35;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const RECENT_DAYS = 30;

const userKindWeights = userActivities.map((kind) => [kind, kind.weight] as const);

/** Mostly 1, now and then up to `max`. */
function countUpTo(rng: Rng, max: number): number {
  const f = rng.float();
  return 1 + Math.floor(f * f * max);
}

/**
 * The instants on day k an entity can act: not before it existed, not after
 * the as-of instant. Null when the day has no such instant.
 */
function dayBounds(cal: Calendar, k: number, notBefore: number): [number, number] | null {
  const lo = Math.max(cal.start(k), notBefore);
  const hi = Math.min(cal.end(k) - 1, cal.asOf);
  return lo <= hi ? [lo, hi] : null;
}

/** Picks `n` of `candidates` days, weekdays about three times as likely as weekends. */
function pickDays(rng: Rng, cal: Calendar, candidates: number[], n: number): number[] {
  if (n >= candidates.length) return candidates;
  const keyed = candidates.map((k) => ({
    k,
    key: Math.log(1 - rng.float()) / (cal.weekend(k) ? WEEKEND_FACTOR : 1),
  }));
  keyed.sort((a, b) => b.key - a.key);
  return keyed.slice(0, n).map((e) => e.k);
}

/** The days (indexes, 0 = today) a user is active in the last `days` days. */
export function activeDays(rng: Rng, cal: Calendar, days: number, user: SeedUser): number[] {
  const profile = profiles[user.tier];
  if (user.tier === "never") return [];
  const recent: number[] = [];
  const earlier: number[] = [];
  for (let k = 0; k < days; k++) {
    if (cal.end(k) <= user.createdAt) break;
    if (!dayBounds(cal, k, user.createdAt)) continue;
    (k < RECENT_DAYS ? recent : earlier).push(k);
  }
  const chosen = pickDays(rng, cal, recent, rng.int(profile.recent[0], profile.recent[1]));
  if (user.tier === "lapsed") return chosen.concat(pickDays(rng, cal, earlier, rng.int(1, 5)));
  for (const k of earlier) {
    if (rng.chance(profile.earlierRate * (cal.weekend(k) ? WEEKEND_FACTOR : 1))) chosen.push(k);
  }
  return chosen;
}

/** A user's events over the last `days` days: a session on each active day. */
export function* userEvents(
  seed: number,
  cal: Calendar,
  days: number,
  user: SeedUser,
): Generator<SeedEvent, void, undefined> {
  const rng = rngFor(seed, Stream.userEvents, user.index);
  const profile = profiles[user.tier];
  const picked: ActivityKind[] = [];
  for (const k of activeDays(rng, cal, days, user).sort((a, b) => b - a)) {
    const bounds = dayBounds(cal, k, user.createdAt);
    if (!bounds) continue;
    const [lo, hi] = bounds;
    // Sessions start in working hours when the day allows it.
    let at = cal.start(k) + 8 * HOUR_MS + Math.floor(rng.float() * 10 * HOUR_MS);
    if (at < lo || at > hi) at = lo + Math.floor(rng.float() * (hi - lo + 1));

    picked.length = 0;
    if (rng.chance(0.85)) picked.push(login);
    let extras = profile.extras.length ? rng.weighted(profile.extras.map((w, n) => [n, w] as const)) : 0;
    if (picked.length === 0 && extras === 0) extras = 1;
    for (let tries = 0; extras > 0 && tries < 10; tries++) {
      const kind = rng.weighted(userKindWeights);
      if (picked.includes(kind)) continue;
      picked.push(kind);
      extras--;
    }
    for (const kind of picked) {
      yield {
        userId: user.id,
        accountId: user.accountId,
        activity: kind.activity,
        module: kind.module,
        occurredAt: at,
        count: countUpTo(rng, kind.maxCount),
      };
      at = Math.min(hi, at + rng.int(1, 30) * MINUTE_MS);
    }
  }
}

/**
 * Events an account generates without a user: API calls and syncs while it
 * has integrations connected (a churned account's stopped a month ago), and
 * now and then a billing change.
 */
export function* accountEvents(
  seed: number,
  cal: Calendar,
  days: number,
  account: SeedAccount,
): Generator<SeedEvent, void, undefined> {
  const rng = rngFor(seed, Stream.accountEvents, account.index);
  const event = (kind: ActivityKind, occurredAt: number, count: number): SeedEvent => ({
    userId: null,
    accountId: account.id,
    activity: kind.activity,
    module: kind.module,
    occurredAt,
    count,
  });
  const { apiCall, sync, billingUpdated } = accountActivities;
  const billingDay = account.contractStatus === "paying" && rng.chance(0.05) ? rng.int(0, days - 1) : -1;
  for (let k = days - 1; k >= 0; k--) {
    const bounds = dayBounds(cal, k, account.provisionedAt);
    if (!bounds) continue;
    const [lo, hi] = bounds;
    const at = () => lo + Math.floor(rng.float() * (hi - lo + 1));
    if (account.integrated && (account.contractStatus !== "churned" || k >= RECENT_DAYS)) {
      if (rng.chance(cal.weekend(k) ? 0.6 : 0.9)) {
        yield event(apiCall, at(), rng.int(20, 200) * countUpTo(rng, 10));
      }
      if (rng.chance(0.25)) yield event(sync, at(), countUpTo(rng, sync.maxCount));
    }
    if (k === billingDay) yield event(billingUpdated, at(), 1);
  }
}
