import type { SeedAccount } from "./accounts.ts";
import type { Calendar } from "./calendar.ts";
import { Deck, deckOf, rngFor, Stream } from "./random.ts";
import { departments, firstNames, lastNames } from "./vocabulary.ts";

/**
 * How engaged a user is. power: active on 20 or more of the last 30 days;
 * regular: 4 to 14; occasional: 1 to 4; lapsed: none in the last 30 days but
 * some before; never: no activity at all.
 */
export type Tier = "power" | "regular" | "occasional" | "lapsed" | "never";

/**
 * One block of 40 users: 7.5 % power, 22.5 % regular, 30 % occasional,
 * 22.5 % lapsed, 17.5 % never active (before the account's own pull on them).
 */
const tierDeck = deckOf<Tier>([
  ["power", 3],
  ["regular", 9],
  ["occasional", 12],
  ["lapsed", 9],
  ["never", 7],
]);

/** Share of an established account's users created in the last 30 days. */
const NEW_USER_SHARE = 0.08;

export interface SeedUser {
  index: number;
  id: string;
  accountId: string;
  email: string;
  name: string;
  createdAt: number;
  attributes: Record<string, unknown>;
  tier: Tier;
}

export function userId(index: number): string {
  return `usr-${String(index + 1).padStart(7, "0")}`;
}

export class UserGenerator {
  private readonly deck: Deck<Tier>;

  constructor(
    private readonly seed: number,
    private readonly calendar: Calendar,
  ) {
    this.deck = new Deck(seed, Stream.userDeck, tierDeck);
  }

  /** User `index`, which belongs to `account`. */
  user(index: number, account: SeedAccount): SeedUser {
    const rng = rngFor(this.seed, Stream.user, index);
    const cal = this.calendar;
    const monthStart = cal.start(29);
    const first = index === account.firstUser;

    let tier = this.deck.at(index);
    const engaged = tier === "power" || tier === "regular" || tier === "occasional";
    // Engagement follows the account: a churned customer's users have gone quiet,
    // a struggling one's are less active, a healthy one's more.
    if (account.contractStatus === "churned") {
      if (engaged && rng.chance(0.9)) tier = "lapsed";
    } else if (account.health === "poor") {
      if (tier === "power" && rng.chance(0.5)) tier = "regular";
      else if (tier === "regular" && rng.chance(0.3)) tier = "occasional";
    } else if (account.health === "good" && tier === "occasional" && rng.chance(0.2)) {
      tier = "regular";
    }

    let createdAt: number;
    if (first) {
      // The account's first user signs up right after it is provisioned.
      createdAt = Math.min(cal.asOf, account.provisionedAt + rng.int(1, 120) * 60_000);
    } else if (account.provisionedAt >= monthStart || rng.chance(NEW_USER_SHARE)) {
      const from = Math.max(monthStart, account.provisionedAt);
      createdAt = from + Math.floor(rng.float() * (cal.asOf - from));
    } else {
      createdAt = account.provisionedAt + Math.floor(rng.float() * (monthStart - account.provisionedAt));
    }
    // Twenty active days in the last thirty need a user older than that.
    if (tier === "power" && createdAt >= monthStart) tier = "regular";

    const firstName = rng.pick(firstNames);
    const lastName = rng.pick(lastNames);
    const role = first
      ? "admin"
      : rng.weighted([
          ["admin", 8],
          ["member", 70],
          ["viewer", 22],
        ] as const);
    return {
      index,
      id: userId(index),
      accountId: account.id,
      email: `${firstName}.${lastName}.${index + 1}@${account.domain}`.toLowerCase(),
      name: `${firstName} ${lastName}`,
      createdAt,
      attributes: { role, department: rng.weighted(departments) },
      tier,
    };
  }
}
