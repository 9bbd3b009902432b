import type { FallbackReason, ImportFallback } from "../types.ts";
import { copyHeader, copyTrailer, referenceRows, type SumValues, sumRows } from "./binary-copy.ts";
import { FULL, grow, Interner, MAX_VALUES } from "./interner.ts";
import { keyOrder, type SumsShape, type ValueRanks } from "./key-order.ts";
import { SpillFile } from "./spill-file.ts";
import { ACCOUNT, ACCOUNT_OF_USER, SumTable, USER } from "./sums-table.ts";
import { DAY_SECONDS, daysFromCivil } from "./time.ts";
import { ZoneOffsets } from "./zone-offsets.ts";

/**
 * The daily rollups of an events file, summed in this process while Postgres
 * parses the file's COPY into activity_events (the import's one Postgres
 * backend is the bottleneck; this process has a core to spare). Postgres then
 * loads the summed rows instead of aggregating the stored events itself, and
 * checks the file's references on its distinct (user, account) pairs instead
 * of joining every event.
 *
 * Memory is bounded: when the sums fill MAX_SLOTS they are written to a
 * temporary file as partial sums (which Postgres adds up by key) and the
 * table starts again. Past MAX_VALUES distinct ids of a kind, or on anything
 * this code does not compute exactly as Postgres would (a time zone whose
 * offset this process cannot tell per hour, a day outside years 1-9999), the
 * sums are given up and the import sums the stored events in SQL as before.
 */

const HOUR = 3600;
/**
 * At most this many sum slots (20 bytes each: 160 MB), filled to 70 %: about
 * 5.9M sums, room for a day's events of a workspace of a million users and
 * 100k accounts in two dozen activity and module pairs without spilling.
 */
const MAX_SLOTS = 1 << 23;
const MIN_DAY = daysFromCivil(1, 1, 1);
const MAX_DAY = daysFromCivil(9999, 12, 31);

export class EventSums {
  /** Why the sums cannot be used (the import then sums the stored events), or undefined. */
  fallback: ImportFallback | undefined;

  private readonly users = new Interner();
  private readonly accounts = new Interner();
  private readonly activities = new Interner();
  private readonly modules = new Interner();
  private readonly pairs = new Map<number, number>();
  private pairActivity: number[] = [];
  private pairModule: number[] = [];
  private sums: SumTable | undefined;
  private spillFile: SpillFile | undefined;
  /** Per user: the account its rows name (-1: none yet). */
  private userAccount = new Int32Array(1024).fill(-1);
  /** Per account: 1 when a row names it without a user. */
  private accountAlone = new Int32Array(1024);
  /** The zone's offsets; undefined in UTC. */
  private readonly zone: ZoneOffsets | undefined;
  /** UTC offset in seconds per hour since 1970, as this process reads the time zone. */
  readonly offsets: ReadonlyMap<number, number>;

  /**
   * `expectedRows` sizes the sums at first (from the file's size, say);
   * `maxSlots` (a power of two) bounds those kept in memory, and tests make it
   * small.
   */
  constructor(timezone: string, opts: { expectedRows?: number; maxSlots?: number } = {}) {
    // A row adds at most two sums, a user's and an account's, but rows repeat
    // keys: room for one per row to start with (the table grows when needed).
    this.sums = new SumTable(opts.maxSlots ?? MAX_SLOTS, opts.expectedRows ?? 0);
    this.zone = timezone.toUpperCase() === "UTC" ? undefined : new ZoneOffsets(timezone);
    this.offsets = this.zone?.offsets ?? new Map();
    if (this.zone?.problem !== undefined) this.giveUp("timezone", this.zone.problem);
  }

  /** Why the sums were given up, in words, or undefined. */
  get abandoned(): string | undefined {
    return this.fallback?.detail;
  }

  /**
   * One row of the fast path: the byte ranges of its user, account, activity
   * and module (user or account may be empty, not both), occurred at
   * `seconds` since 1970. `account`, when given, is the account of a row
   * whose account range is empty (its user's, found by the import).
   */
  addSpans(buf: Uint8Array, fields: Spans, seconds: number, count: number, account?: Uint8Array): void {
    if (this.sums === undefined) return;
    const [userFrom, userTo, accountFrom, accountTo, activityFrom, activityTo, moduleFrom, moduleTo] = fields;
    const u = userTo > userFrom ? this.users.id(buf, userFrom, userTo) : -1;
    const a = account
      ? this.accounts.id(account, 0, account.length)
      : accountTo > accountFrom
        ? this.accounts.id(buf, accountFrom, accountTo)
        : -1;
    const activity = this.activities.id(buf, activityFrom, activityTo);
    const module = this.modules.id(buf, moduleFrom, moduleTo);
    if (u === FULL || a === FULL || activity === FULL || module === FULL) {
      this.tooMany();
      return;
    }
    this.add(u, a, this.pairOf(activity, module), seconds, count);
  }

  /**
   * One row the exact converter settled: [user_id, account_id, activity,
   * module, occurred_at, count, ...], occurred at `seconds` since 1970.
   */
  addValues(values: readonly (string | null)[], seconds: number): void {
    if (this.sums === undefined) return;
    const [user, account, activity, module, , count] = values;
    const bytes = (v: string | null | undefined) => Buffer.from(v ?? "", "utf8");
    const b = [user, account, activity, module].map(bytes) as Buffer[];
    const u = b[0]!.length > 0 ? this.users.id(b[0]!, 0, b[0]!.length) : -1;
    const a = b[1]!.length > 0 ? this.accounts.id(b[1]!, 0, b[1]!.length) : -1;
    const activityId = this.activities.id(b[2]!, 0, b[2]!.length);
    const moduleId = this.modules.id(b[3]!, 0, b[3]!.length);
    if (u === FULL || a === FULL || activityId === FULL || moduleId === FULL) {
      this.tooMany();
      return;
    }
    this.add(u, a, this.pairOf(activityId, moduleId), seconds, Number(count));
  }

  /** The first and the last day summed, in days since 1970 (first > last while none). */
  firstDay = MAX_DAY + 1;
  lastDay = MIN_DAY - 1;

  /** Some sums wait for a user's account: a row named a user and left account_id empty. */
  throughUsers = false;

  /**
   * The sums of users named without an account have been moved to their
   * accounts (resolveAccounts): a key may stand in two slots, which the key's
   * order brings together, and no sum may be added any more.
   */
  private moved = false;

  /** The account of a user the rows named without one, as the database has it (before resolveAccounts). */
  setAccount(user: string, account: string): void {
    if (this.sums === undefined) return;
    const u = Buffer.from(user, "utf8");
    const id = this.users.id(u, 0, u.length);
    if (id === FULL) {
      this.tooMany();
      return;
    }
    if (id < this.userAccount.length && this.userAccount[id]! < 0) {
      const a = Buffer.from(account, "utf8");
      const accountId = this.accounts.id(a, 0, a.length);
      if (accountId === FULL) {
        this.tooMany();
        return;
      }
      this.userAccount[id] = accountId;
    }
  }

  /**
   * Counts the sums of users named without an account (setAccount gave each
   * its account) for those accounts, so that no key waits for the database
   * to find them: the sums are no longer partial unless they spilled.
   */
  resolveAccounts(): void {
    const sums = this.sums;
    if (!sums || !this.throughUsers || this.partialBySpill) return;
    const entities = sums.entity;
    for (let k = 0; k < entities.length; k++) {
      const e = entities[k]!;
      if (e === -1 || (e & 3) !== ACCOUNT_OF_USER) continue;
      const account = this.userAccount[e >>> 2]!;
      if (account < 0) {
        this.giveUp("bad reference", "a user named without an account has none");
        return;
      }
      entities[k] = (account << 2) | ACCOUNT;
    }
    this.throughUsers = false;
    this.moved = true;
  }

  /** Some sums spilled to the temporary file: partial sums, to be added up by key. */
  get partialBySpill(): boolean {
    return this.spillFile !== undefined;
  }

  /** Some keys may come more than once (partial sums, accounts through users), to be added up by key. */
  get partial(): boolean {
    return this.throughUsers || this.partialBySpill;
  }

  /** Removes the spill file (call once the sums are written or given up). */
  release(): void {
    this.spillFile?.release();
    this.spillFile = undefined;
  }

  /** Every distinct user, account, activity and module the sums hold, numbered as ValueRanks expects. */
  values(): { users: string[]; accounts: string[]; activities: string[]; modules: string[] } {
    const all = (names: Interner) => Array.from({ length: names.count }, (_, id) => names.text(id));
    return {
      users: all(this.users),
      accounts: all(this.accounts),
      activities: all(this.activities),
      modules: all(this.modules),
    };
  }

  /** The users and the accounts the rows name (at most `limit` of each). */
  named(limit: number): { users: string[]; accounts: string[] } {
    const list = (names: Interner) =>
      Array.from({ length: Math.min(limit, names.count) }, (_, id) => names.text(id));
    return { users: list(this.users), accounts: list(this.accounts) };
  }

  /**
   * The references to check, as COPY ... (FORMAT binary) data of (user,
   * account) rows: each user with the account its rows name (null when they
   * name none), and each account named by a row without a user (user null).
   */
  *referencesCopyData(): Generator<Buffer> {
    yield* referenceRows(this.users, this.accounts, this.userAccount, this.accountAlone);
  }

  /**
   * The sums as COPY ... (FORMAT binary) data: entity_type, entity_id, day,
   * activity, module, count. An entity_type of "user-account" stands for
   * the account of the user entity_id (a row left account_id empty). The
   * partial sums of the spill file come first, grouped by entity. The others
   * come in the order of the rollups' primary key when `ranks` tells how the
   * database orders the values (an insert in key order visits each index page
   * once, where rows grouped only by entity land all over the index), and
   * grouped by entity otherwise. Empties the sums.
   */
  async *copyData(ranks?: ValueRanks): AsyncGenerator<Buffer> {
    const sums = this.sums;
    if (!sums) return;
    // Moved sums share keys, which only the key's order brings together.
    if (this.moved && !ranks) throw new Error("sums moved to accounts are written in the key's order only");
    this.sums = undefined;
    yield copyHeader();
    if (this.spillFile !== undefined) yield* this.spillFile.read();
    yield* sumRows(sums, keyOrder(sums, this.shape(), ranks), this.sumValues());
    yield copyTrailer();
  }

  private shape(): SumsShape {
    return {
      pairActivity: this.pairActivity,
      pairModule: this.pairModule,
      firstDay: this.firstDay,
      lastDay: this.lastDay,
      users: this.users.count,
      accounts: this.accounts.count,
    };
  }

  private sumValues(): SumValues {
    return {
      users: this.users,
      accounts: this.accounts,
      activities: this.activities,
      modules: this.modules,
      pairActivity: this.pairActivity,
      pairModule: this.pairModule,
    };
  }

  private giveUp(reason: FallbackReason, detail: string): void {
    this.fallback ??= { reason, detail };
    this.sums = undefined;
  }

  private tooMany(): void {
    this.giveUp("too many ids", "more distinct ids than the sums keep");
  }

  private pairOf(activity: number, module: number): number {
    const key = activity * MAX_VALUES + module;
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      pair = this.pairActivity.length;
      this.pairs.set(key, pair);
      this.pairActivity.push(activity);
      this.pairModule.push(module);
    }
    return pair;
  }

  private add(user: number, account: number, pair: number, seconds: number, count: number): void {
    const sums = this.sums;
    if (!sums) return;
    if (this.moved) throw new Error("no sums may be added once moved to accounts");
    let offset = 0;
    if (this.zone) {
      const found = this.zone.at(Math.floor(seconds / HOUR));
      if (found === undefined) {
        this.giveUp("timezone", this.zone.problem ?? "");
        return;
      }
      offset = found;
    }
    const day = Math.floor((seconds + offset) / DAY_SECONDS);
    if (day < MIN_DAY || day > MAX_DAY) {
      this.giveUp("day out of range", "a day outside the years 1 to 9999");
      return;
    }
    if (day < this.firstDay) this.firstDay = day;
    if (day > this.lastDay) this.lastDay = day;
    if (user >= 0) {
      if (user >= this.userAccount.length) {
        const known = this.userAccount.length;
        this.userAccount = grow(this.userAccount, known * 2);
        this.userAccount.fill(-1, known);
      }
      sums.add((user << 2) | USER, day, pair, count);
      if (account >= 0) {
        const known = this.userAccount[user]!;
        // Two accounts for one user: one of them is wrong, which the exact path reports.
        if (known >= 0 && known !== account) this.giveUp("bad reference", "a user named with two accounts");
        this.userAccount[user] = account;
      } else this.throughUsers = true;
    } else {
      if (account >= this.accountAlone.length) {
        this.accountAlone = grow(this.accountAlone, this.accountAlone.length * 2);
      }
      this.accountAlone[account] = 1;
    }
    if (account >= 0) sums.add((account << 2) | ACCOUNT, day, pair, count);
    else sums.add((user << 2) | ACCOUNT_OF_USER, day, pair, count);
    if (sums.full) this.spill(sums);
  }

  /** Writes the sums so far to the spill file as partial sums (grouped by entity), and empties the table. */
  private spill(sums: SumTable): void {
    this.spillFile ??= new SpillFile();
    this.spillFile.append(sumRows(sums, keyOrder(sums, this.shape(), undefined), this.sumValues()));
    sums.clear();
  }
}

/**
 * Byte ranges [from, to) of a row's user, account, activity and module, one
 * pair after another (filled in place for each row, no array per field).
 */
export type Spans = Int32Array;
