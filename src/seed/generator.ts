import { AccountGenerator, type SeedAccount } from "./accounts.ts";
import { Calendar } from "./calendar.ts";
import { accountEvents, type SeedEvent, userEvents } from "./events.ts";
import { type SeedUser, UserGenerator } from "./users.ts";

export interface SeedOptions {
  accounts: number;
  users: number;
  /** Days of activity history, ending today (the as-of instant's date). */
  days: number;
  seed: number;
  /** Nothing is created, and no activity happens, after this instant. */
  asOf: Date;
}

export const seedDefaults = { accounts: 50, users: 500, days: 60, seed: 1 } as const;

/** Longest history the generator makes. */
const MAX_SEED_DAYS = 3660;

/** What is wrong with the options, one message per problem; empty when they are usable. */
export function seedOptionProblems(options: SeedOptions): string[] {
  const problems: string[] = [];
  const whole = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`--${name} must be a whole number from ${min} to ${max}, not ${value}`);
    }
  };
  whole("accounts", options.accounts, 1, 10_000_000);
  whole("users", options.users, 0, 100_000_000);
  whole("days", options.days, 1, MAX_SEED_DAYS);
  whole("seed", options.seed, 0);
  if (Number.isNaN(options.asOf.getTime())) problems.push("--as-of must be an ISO-8601 instant");
  return problems;
}

/**
 * A synthetic workspace, generated lazily: accounts, users and events are
 * streams computed from the options alone, so any size fits in flat memory
 * and the same options always give the same rows.
 */
export class WorkspaceGenerator {
  readonly calendar: Calendar;
  private readonly accountGen: AccountGenerator;
  private readonly userGen: UserGenerator;

  constructor(
    readonly options: SeedOptions,
    timezone: string,
  ) {
    this.calendar = new Calendar(options.asOf, timezone, Math.max(options.days, 60));
    this.accountGen = new AccountGenerator(options.seed, this.calendar, options.accounts, options.users);
    this.userGen = new UserGenerator(options.seed, this.calendar);
  }

  *accounts(): Generator<SeedAccount, void, undefined> {
    for (let i = 0; i < this.options.accounts; i++) yield this.accountGen.account(i);
  }

  *users(): Generator<SeedUser, void, undefined> {
    for (const account of this.accounts()) {
      for (let u = 0; u < account.userCount; u++) yield this.userGen.user(account.firstUser + u, account);
    }
  }

  /**
   * Every event, account by account: the account's own, then each of its
   * users'. `onUsers` hears how many users have been covered so far.
   */
  *events(onUsers?: (done: number) => void): Generator<SeedEvent, void, undefined> {
    const { seed, days } = this.options;
    let done = 0;
    for (const account of this.accounts()) {
      yield* accountEvents(seed, this.calendar, days, account);
      for (let u = 0; u < account.userCount; u++) {
        yield* userEvents(seed, this.calendar, days, this.userGen.user(account.firstUser + u, account));
      }
      done += account.userCount;
      onUsers?.(done);
    }
  }
}
