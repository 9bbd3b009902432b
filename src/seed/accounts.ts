import type { contractStatuses, healthLabels } from "../db/schema/accounts.ts";
import { type Calendar, DAY_MS } from "./calendar.ts";
import { Deck, deckOf, type Rng, rngFor, Stream } from "./random.ts";
import { companyPrefixes, companySuffixes, industries, integrationNames, regions } from "./vocabulary.ts";

export type ContractStatus = (typeof contractStatuses)[number];
export type HealthLabel = (typeof healthLabels)[number];

/**
 * What kind of customer an account is. `at-risk` is a paying account with a
 * renewal within 90 days and poor health, so every block of accounts holds
 * some the renewal-risk rule should find (other paying accounts can land there
 * by chance too).
 */
export type AccountKind = "at-risk" | "paying" | "new-trial" | "trial" | "churned" | "prospect";

/** One block of 20 accounts: 55 % paying, 15 % trials (10 % started this month), 10 % churned, 20 % no contract. */
const accountDeck = deckOf<AccountKind>([
  ["at-risk", 1],
  ["paying", 10],
  ["new-trial", 2],
  ["trial", 1],
  ["churned", 2],
  ["prospect", 4],
]);

/** How many users an account of each kind tends to have, relative to the others. */
const sizeFactor: Record<AccountKind, number> = {
  "at-risk": 1.2,
  paying: 1.2,
  "new-trial": 0.25,
  trial: 0.4,
  churned: 0.8,
  prospect: 0.5,
};

const YEAR_MS = 365 * DAY_MS;

export interface SeedAccount {
  index: number;
  id: string;
  name: string;
  domain: string;
  kind: AccountKind;
  provisionedAt: number;
  contractStatus: ContractStatus | null;
  renewalDate: string | null;
  healthScore: number | null;
  health: HealthLabel | null;
  attributes: Record<string, unknown>;
  /** Index of the account's first user; its users are consecutive. */
  firstUser: number;
  userCount: number;
  /** The account calls the API and syncs data on its own (events without a user). */
  integrated: boolean;
}

export function accountId(index: number): string {
  return `acc-${String(index + 1).padStart(6, "0")}`;
}

/** poor < 40 ≤ average < 70 ≤ good: the label the import derives from a score alone. */
export function healthFromScore(score: number): HealthLabel {
  return score < 40 ? "poor" : score < 70 ? "average" : "good";
}

function clampScore(value: number): number {
  return Math.min(100, Math.max(0, Math.round(value)));
}

/**
 * Accounts of a workspace, each computed on demand from the seed and its
 * index. Only the user counts (an Int32Array) are held in memory.
 */
export class AccountGenerator {
  private readonly deck: Deck<AccountKind>;
  private readonly sizes: Int32Array;
  private readonly offsets: Float64Array;

  constructor(
    private readonly seed: number,
    private readonly calendar: Calendar,
    readonly count: number,
    users: number,
  ) {
    this.deck = new Deck(seed, Stream.accountDeck, accountDeck);
    this.sizes = this.allocateUsers(users);
    this.offsets = new Float64Array(count + 1);
    for (let i = 0; i < count; i++) this.offsets[i + 1] = this.offsets[i]! + this.sizes[i]!;
  }

  kind(index: number): AccountKind {
    return this.deck.at(index);
  }

  /** The account a user belongs to (users are numbered account by account). */
  accountOfUser(userIndex: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid]! <= userIndex) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Skewed account sizes: log-normal weights give most accounts a handful of
   * users and a few hundreds. Every account gets at least one user when there
   * are enough; rounding the running total keeps the sum exact.
   */
  private allocateUsers(users: number): Int32Array {
    const sizes = new Int32Array(this.count);
    if (this.count === 0) return sizes;
    const base = users >= this.count ? 1 : 0;
    const rest = users - base * this.count;
    const weights = new Float64Array(this.count);
    let total = 0;
    for (let i = 0; i < this.count; i++) {
      const rng = rngFor(this.seed, Stream.accountSize, i);
      weights[i] = Math.exp(1.1 * rng.normal()) * sizeFactor[this.kind(i)];
      total += weights[i]!;
    }
    let running = 0;
    let assigned = 0;
    for (let i = 0; i < this.count; i++) {
      running += weights[i]!;
      const upTo = i === this.count - 1 ? rest : Math.round((running / total) * rest);
      sizes[i] = base + upTo - assigned;
      assigned = upTo;
    }
    return sizes;
  }

  account(index: number): SeedAccount {
    const rng = rngFor(this.seed, Stream.account, index);
    const kind = this.kind(index);
    const userCount = this.sizes[index]!;
    const prefix = rng.pick(companyPrefixes);
    const suffix = rng.pick(companySuffixes);
    const name = `${prefix} ${suffix}`;
    const domain = `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${index + 1}.example`;
    const provisionedAt = this.provisionedAt(kind, rng);
    const contractStatus: ContractStatus | null =
      kind === "prospect" ? null : kind === "at-risk" ? "paying" : kind === "new-trial" ? "trial" : kind;
    const integrated =
      kind !== "prospect" &&
      rng.chance(kind === "paying" ? 0.25 : kind === "at-risk" ? 0.2 : kind === "churned" ? 0.15 : 0.1);
    const attributes: Record<string, unknown> = {
      plan: this.plan(kind, userCount, rng),
      region: rng.weighted(regions),
      industry: rng.weighted(industries),
    };
    if (contractStatus !== null) {
      attributes.seats =
        contractStatus === "trial"
          ? Math.max(10, userCount)
          : Math.max(5, Math.ceil((userCount * (1 + 0.6 * rng.float())) / 5) * 5);
    }
    if (integrated) {
      const names = rng.shuffle([...integrationNames]).slice(0, rng.int(1, 3));
      attributes.integrations = names.sort();
    }
    const { score, label } = this.health(kind, rng);
    return {
      index,
      id: accountId(index),
      name,
      domain,
      kind,
      provisionedAt,
      contractStatus,
      renewalDate: this.renewalDate(kind, provisionedAt, rng),
      healthScore: score,
      health: label,
      attributes,
      firstUser: this.offsets[index]!,
      userCount,
      integrated,
    };
  }

  /** The first instant of the 30-day window the new-account and new-user rules look at. */
  private get monthStart(): number {
    return this.calendar.start(29);
  }

  private provisionedAt(kind: AccountKind, rng: Rng): number {
    const recent = () => this.monthStart + Math.floor(rng.float() * (this.calendar.asOf - this.monthStart));
    /** At least `minDays` before the 30-day window, spread over `years`. */
    const older = (minDays: number, years: number) =>
      this.monthStart - 1 - minDays * DAY_MS - Math.floor(rng.float() * years * YEAR_MS);
    switch (kind) {
      case "new-trial":
        return recent();
      case "trial":
        return older(0, 30 / 365);
      case "paying":
        return rng.chance(0.05) ? recent() : older(0, 4);
      case "at-risk":
        return older(200, 3);
      case "churned":
        return older(120, 3);
      case "prospect":
        return rng.chance(0.12) ? recent() : older(0, 2);
    }
  }

  private renewalDate(kind: AccountKind, provisionedAt: number, rng: Rng): string | null {
    const cal = this.calendar;
    switch (kind) {
      case "at-risk":
        return cal.date(-rng.int(0, 90));
      case "paying":
        if (rng.chance(0.12)) return null;
        // A few renewals are overdue: the contract runs on while it is being renegotiated.
        return cal.date(rng.chance(0.05) ? rng.int(1, 20) : -rng.int(0, 365));
      case "new-trial":
      case "trial":
        // A trial's renewal date is the end of its 30-day trial.
        return rng.chance(0.3) ? null : cal.date(cal.dayOf(provisionedAt) - 30);
      case "churned":
        return rng.chance(0.5) ? null : cal.date(rng.int(1, 365));
      case "prospect":
        return null;
    }
  }

  /**
   * Some accounts carry an explicit label (sometimes a CSM's judgement one
   * level off the score's), some only a score (the label is then derived as
   * the import derives it), some a label alone, some neither.
   */
  private health(kind: AccountKind, rng: Rng): { score: number | null; label: HealthLabel | null } {
    const scored = (mean: number, sd: number, explicitShare: number) => {
      const score = clampScore(mean + sd * rng.normal());
      let label = healthFromScore(score);
      if (rng.chance(explicitShare) && rng.chance(0.4)) {
        const levels: HealthLabel[] = ["poor", "average", "good"];
        const at = levels.indexOf(label) + (rng.chance(0.5) ? 1 : -1);
        label = levels[Math.min(2, Math.max(0, at))]!;
      }
      return { score, label };
    };
    switch (kind) {
      case "at-risk":
        if (rng.chance(0.15)) return { score: null, label: "poor" };
        return { score: rng.int(4, 39), label: "poor" };
      case "paying": {
        const r = rng.float();
        if (r < 0.08) return { score: null, label: null };
        if (r < 0.14)
          return {
            score: null,
            label: rng.weighted([
              ["good", 4],
              ["average", 4],
              ["poor", 2],
            ]),
          };
        return scored(66, 17, 0.25);
      }
      case "new-trial":
      case "trial":
        return rng.chance(0.5) ? { score: null, label: null } : scored(58, 18, 0);
      case "churned":
        return rng.chance(0.3) ? { score: null, label: null } : scored(30, 14, 0.3);
      case "prospect":
        return rng.chance(0.75) ? { score: null, label: null } : scored(50, 20, 0);
    }
  }

  private plan(kind: AccountKind, userCount: number, rng: Rng): string {
    if (kind === "prospect") return "free";
    const plans = ["starter", "growth", "business", "enterprise"];
    let level = userCount < 5 ? 0 : userCount < 25 ? 1 : userCount < 150 ? 2 : 3;
    if (rng.chance(0.2)) level = Math.min(3, level + 1);
    return plans[level]!;
  }
}
