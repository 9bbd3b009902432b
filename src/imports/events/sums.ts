import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DAY_SECONDS, daysFromCivil, PG_EPOCH_DAY } from "./time.ts";

/**
 * The daily rollups of an events file, summed in this process while Postgres
 * parses the file's COPY into activity_events (the import's one Postgres
 * backend is the bottleneck; this process has a core to spare). Postgres then
 * loads about 1.4M summed rows for 2M events instead of aggregating the
 * stored events itself, and checks the file's references on its distinct
 * (user, account) pairs instead of joining every event.
 *
 * Memory is bounded: when the sums fill MAX_SLOTS they are written to a
 * temporary file as partial sums (which Postgres adds up by key) and the
 * table starts again. Past MAX_VALUES distinct ids of a kind, or on anything
 * this code does not compute exactly as Postgres would (a time zone whose
 * offset this process cannot tell per hour, a day outside years 1-9999), the
 * sums are given up and the import sums the stored events in SQL as before.
 */

const HOUR = 3600;
const DAY = DAY_SECONDS;
/**
 * At most this many sum slots (20 bytes each: 160 MB), filled to 70 %: about
 * 5.9M sums, such as those of a day's 2M events over a million users and
 * 100k accounts in two dozen activity and module pairs (3.4M sums). Half as
 * many spilled there, and the partial sums cost that import 80 s against
 * 50 s (their total in SQL, and an insert in no key order).
 */
const MAX_SLOTS = 1 << 23;
/** At most this many distinct ids of one kind (users, accounts, activities, modules). */
const MAX_VALUES = 1 << 20;

/** Rollup kinds: a user's, an account's, and an account's through its user (the row left account_id empty). */
const USER = 0;
const ACCOUNT = 1;
const ACCOUNT_OF_USER = 2;
const KIND_NAMES = [Buffer.from("user"), Buffer.from("account"), Buffer.from("user-account")];

class TooMany extends Error {}

/** Distinct byte strings numbered in order of first sight, without a JS string per occurrence. */
class Interner {
  private pool = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  private starts = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private slots = new Int32Array(2048);
  count = 0;

  /** The id found last: rows of one session repeat their user and account. */
  private last = -1;

  id(buf: Uint8Array, from: number, to: number): number {
    if (this.last >= 0 && this.equals(this.last, buf, from, to)) return this.last;
    this.last = this.find(buf, from, to);
    return this.last;
  }

  /** The value's hash, and the slot that holds it or the empty slot where it would go. */
  private probe(buf: Uint8Array, from: number, to: number): { h: number; slot: number } {
    let h = 0x811c9dc5 | 0;
    for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const mask = this.slots.length - 1;
    let slot = h & mask;
    for (;;) {
      const v = this.slots[slot]! - 1;
      if (v < 0 || (this.hashes[v] === h && this.equals(v, buf, from, to))) return { h, slot };
      slot = (slot + 1) & mask;
    }
  }

  private find(buf: Uint8Array, from: number, to: number): number {
    const { h, slot } = this.probe(buf, from, to);
    if (this.slots[slot]! > 0) return this.slots[slot]! - 1;
    const id = this.count;
    if (id >= MAX_VALUES) throw new TooMany("more distinct ids than the sums keep");
    if (id + 2 > this.starts.length) {
      this.starts = grow(this.starts, this.starts.length * 2);
      this.hashes = grow(this.hashes, this.hashes.length * 2);
    }
    const length = to - from;
    if (this.used + length > this.pool.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.pool.length * 2, this.used + length));
      this.pool.copy(bigger, 0, 0, this.used);
      this.pool = bigger;
    }
    for (let i = from; i < to; i++) this.pool[this.used++] = buf[i]!;
    this.starts[id] = this.used - length;
    this.starts[id + 1] = this.used;
    this.hashes[id] = h;
    this.count++;
    this.slots[slot] = id + 1;
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  /** The id of a value already numbered, or -1 (numbers nothing new). */
  lookup(buf: Uint8Array, from: number, to: number): number {
    return this.slots[this.probe(buf, from, to).slot]! - 1;
  }

  /** The value's bytes written into out at o; returns the new offset. */
  write(id: number, out: Buffer, o: number): number {
    // Byte by byte: ids are short, and Buffer.copy costs a native call each.
    const pool = this.pool;
    for (let i = this.starts[id]!, end = this.starts[id + 1]!; i < end; i++) out[o++] = pool[i]!;
    return o;
  }

  length(id: number): number {
    return this.starts[id + 1]! - this.starts[id]!;
  }

  /** The value's bytes (a view into the pool, valid until the next value is numbered). */
  bytes(id: number): Uint8Array {
    return this.pool.subarray(this.starts[id]!, this.starts[id + 1]!);
  }

  text(id: number): string {
    return this.pool.toString("utf8", this.starts[id]!, this.starts[id + 1]!);
  }

  private equals(id: number, buf: Uint8Array, from: number, to: number): boolean {
    const start = this.starts[id]!;
    if (this.starts[id + 1]! - start !== to - from) return false;
    for (let i = 0; i < to - from; i++) if (this.pool[start + i] !== buf[from + i]) return false;
    return true;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      let slot = this.hashes[id]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = id + 1;
    }
    this.slots = slots;
  }
}

/**
 * Every user's account as the database has them, for an events file whose
 * rows leave account_id empty: the import writes each event's account as it
 * streams instead of updating every stored event afterwards. Bounded like
 * the sums: past MAX_VALUES users it gives up (full).
 */
export class UserAccounts {
  /** At most this many users are kept. */
  static readonly limit = MAX_VALUES;

  private readonly users = new Interner();
  private readonly accounts = new Interner();
  private accountOf = new Int32Array(1024);
  full = false;

  add(user: string, account: string): void {
    if (this.full) return;
    try {
      const u = Buffer.from(user, "utf8");
      const a = Buffer.from(account, "utf8");
      const id = this.users.id(u, 0, u.length);
      if (id >= this.accountOf.length) this.accountOf = grow(this.accountOf, this.accountOf.length * 2);
      this.accountOf[id] = this.accounts.id(a, 0, a.length);
    } catch (err) {
      if (!(err instanceof TooMany)) throw err;
      this.full = true;
    }
  }

  /** The bytes of account `id` (from of(); a view, not a copy). */
  accountBytes(id: number): Uint8Array {
    return this.accounts.bytes(id);
  }

  /** The account of the user buf[from, to) as a number for accountBytes(), or -1 when there is no such user. */
  of(buf: Uint8Array, from: number, to: number): number {
    const id = this.users.lookup(buf, from, to);
    return id < 0 ? -1 : this.accountOf[id]!;
  }
}

function grow<T extends Int32Array | Float64Array>(a: T, length: number): T {
  const bigger = new (a.constructor as new (n: number) => T)(length);
  bigger.set(a);
  return bigger;
}

/**
 * Sums per (kind and entity, day, activity and module), in open addressing
 * over four parallel arrays (20 bytes a slot): a slot's entity (-1 when
 * empty), day, pair and sum.
 */
class SumTable {
  entity: Int32Array;
  day: Int32Array;
  pair: Int32Array;
  sum: Float64Array;
  size = 0;

  /** `expected` sums are room for at first (within maxSlots), to save growing. */
  constructor(
    private readonly maxSlots: number,
    expected = 0,
  ) {
    let slots = Math.min(1 << 12, maxSlots);
    while (slots < maxSlots && slots * 7 < expected * 10) slots *= 2;
    this.entity = new Int32Array(slots).fill(-1);
    this.day = new Int32Array(slots);
    this.pair = new Int32Array(slots);
    this.sum = new Float64Array(slots);
  }

  get capacity(): number {
    return this.entity.length;
  }

  add(entity: number, day: number, pair: number, count: number): void {
    const mask = this.entity.length - 1;
    let k = hash3(entity, day, pair) & mask;
    for (;;) {
      const e = this.entity[k]!;
      if (e === -1) break;
      if (e === entity && this.day[k] === day && this.pair[k] === pair) {
        this.sum[k]! += count;
        return;
      }
      k = (k + 1) & mask;
    }
    this.entity[k] = entity;
    this.day[k] = day;
    this.pair[k] = pair;
    this.sum[k] = count;
    if (++this.size * 10 > this.capacity * 7 && this.capacity < this.maxSlots) this.rehash();
  }

  /** Holding as many sums as it may. */
  get full(): boolean {
    return this.size * 10 > this.capacity * 7;
  }

  clear(): void {
    this.entity.fill(-1);
    this.size = 0;
  }

  /** The slots that hold a sum. */
  entries(): Int32Array {
    const order = new Int32Array(this.size);
    let n = 0;
    for (let k = 0; k < this.entity.length; k++) if (this.entity[k] !== -1) order[n++] = k;
    return order;
  }

  private rehash(): void {
    const old = { entity: this.entity, day: this.day, pair: this.pair, sum: this.sum };
    const slots = old.entity.length * 2;
    this.entity = new Int32Array(slots).fill(-1);
    this.day = new Int32Array(slots);
    this.pair = new Int32Array(slots);
    this.sum = new Float64Array(slots);
    const mask = slots - 1;
    for (let o = 0; o < old.entity.length; o++) {
      if (old.entity[o] === -1) continue;
      let k = hash3(old.entity[o]!, old.day[o]!, old.pair[o]!) & mask;
      while (this.entity[k] !== -1) k = (k + 1) & mask;
      this.entity[k] = old.entity[o]!;
      this.day[k] = old.day[o]!;
      this.pair[k] = old.pair[o]!;
      this.sum[k] = old.sum[o]!;
    }
  }
}

function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

/**
 * Byte ranges [from, to) of a row's user, account, activity and module, one
 * pair after another (filled in place for each row, no array per field).
 */
export type Spans = Int32Array;

/** The slots at the given positions of `slots`. */
function positionsToSlots(order: Int32Array, slots: Int32Array): Int32Array {
  for (let i = 0; i < order.length; i++) order[i] = slots[order[i]!]!;
  return order;
}

/**
 * The positions 0..n-1 stably sorted by keys[i], whole numbers below
 * `buckets`, applied after `order` (positions already sorted by less
 * significant keys): a counting sort, linear in entries and buckets.
 */
function sortBy(order: Int32Array, keys: Int32Array, buckets: number): Int32Array {
  const next = new Int32Array(buckets + 1);
  for (let i = 0; i < keys.length; i++) next[keys[i]! + 1]!++;
  for (let b = 1; b <= buckets; b++) next[b]! += next[b - 1]!;
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const p = order[i]!;
    out[next[keys[p]!]!++] = p;
  }
  return out;
}

/** The header of COPY ... (FORMAT binary) data: its signature, then flags and header extension length, 0. */
function copyHeader(): Buffer {
  const header = Buffer.alloc(19);
  header.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  return header;
}

/**
 * Where each distinct value the sums hold falls in the database's order of
 * text: per kind, the rank of each value numbered as values() lists it.
 */
export interface ValueRanks {
  users: ArrayLike<number>;
  accounts: ArrayLike<number>;
  activities: ArrayLike<number>;
  modules: ArrayLike<number>;
}

const MIN_DAY = daysFromCivil(1, 1, 1);
const MAX_DAY = daysFromCivil(9999, 12, 31);

export class EventSums {
  /** Why the sums cannot be used (the import then sums the stored events), or undefined. */
  abandoned: string | undefined;

  private readonly users = new Interner();
  private readonly accounts = new Interner();
  private readonly activities = new Interner();
  private readonly modules = new Interner();
  private readonly pairs = new Map<number, number>();
  private pairActivity: number[] = [];
  private pairModule: number[] = [];
  private sums: SumTable | undefined;
  private spillFile: { file: string; fd: number } | undefined;
  /** Per user: the account its rows name (-1: none yet). */
  private userAccount = new Int32Array(1024).fill(-1);
  /** Per account: 1 when a row names it without a user. */
  private accountAlone = new Int32Array(1024);
  private readonly utc: boolean;
  private readonly zone: Intl.DateTimeFormat | undefined;
  /** UTC offset in seconds per hour since 1970, as this process reads the time zone. */
  readonly offsets = new Map<number, number>();

  /**
   * `expectedRows` sizes the sums at first (from the file's size, say);
   * `maxSlots` (a power of two) bounds those kept in memory, and tests make it
   * small.
   */
  constructor(timezone: string, opts: { expectedRows?: number; maxSlots?: number } = {}) {
    // A row adds at most two sums, a user's and an account's, but rows repeat
    // keys: room for one per row to start with (the table grows when needed).
    this.sums = new SumTable(opts.maxSlots ?? MAX_SLOTS, opts.expectedRows ?? 0);
    this.utc = timezone.toUpperCase() === "UTC";
    if (!this.utc) {
      try {
        this.zone = new Intl.DateTimeFormat("en-US", {
          timeZone: timezone,
          hourCycle: "h23",
          era: "short",
          year: "numeric",
          month: "numeric",
          day: "numeric",
          hour: "numeric",
          minute: "numeric",
          second: "numeric",
        });
      } catch {
        this.giveUp(`the time zone ${timezone} is unknown here`);
      }
    }
  }

  /**
   * One row of the fast path: the byte ranges of its user, account, activity
   * and module (user or account may be empty, not both), occurred at
   * `seconds` since 1970. `account`, when given, is the account of a row
   * whose account range is empty (its user's, found by the import).
   */
  addSpans(buf: Uint8Array, fields: Spans, seconds: number, count: number, account?: Uint8Array): void {
    if (this.sums === undefined) return;
    try {
      const [userFrom, userTo, accountFrom, accountTo, activityFrom, activityTo, moduleFrom, moduleTo] =
        fields;
      const u = userTo > userFrom ? this.users.id(buf, userFrom, userTo) : -1;
      const a = account
        ? this.accounts.id(account, 0, account.length)
        : accountTo > accountFrom
          ? this.accounts.id(buf, accountFrom, accountTo)
          : -1;
      const pair = this.pairOf(
        this.activities.id(buf, activityFrom, activityTo),
        this.modules.id(buf, moduleFrom, moduleTo),
      );
      this.add(u, a, pair, seconds, count);
    } catch (err) {
      if (!(err instanceof TooMany)) throw err;
      this.giveUp(err.message);
    }
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
    try {
      const u = b[0]!.length > 0 ? this.users.id(b[0]!, 0, b[0]!.length) : -1;
      const a = b[1]!.length > 0 ? this.accounts.id(b[1]!, 0, b[1]!.length) : -1;
      const pair = this.pairOf(
        this.activities.id(b[2]!, 0, b[2]!.length),
        this.modules.id(b[3]!, 0, b[3]!.length),
      );
      this.add(u, a, pair, seconds, Number(count));
    } catch (err) {
      if (!(err instanceof TooMany)) throw err;
      this.giveUp(err.message);
    }
  }

  /** The first and the last day summed, in days since 1970 (first > last while none). */
  firstDay = MAX_DAY + 1;
  lastDay = MIN_DAY - 1;

  /** Some sums wait for a user's account: a row named a user and left account_id empty. */
  throughUsers = false;

  /**
   * The sums of users named without an account have been moved to their
   * accounts (resolveAccounts): a key may stand in two slots, which rows()
   * adds up, and no sum may be added any more.
   */
  private moved = false;

  /** The account of a user the rows named without one, as the database has it (before resolveAccounts). */
  setAccount(user: string, account: string): void {
    if (this.sums === undefined) return;
    try {
      const u = Buffer.from(user, "utf8");
      const a = Buffer.from(account, "utf8");
      const id = this.users.id(u, 0, u.length);
      if (id < this.userAccount.length && this.userAccount[id]! < 0) {
        this.userAccount[id] = this.accounts.id(a, 0, a.length);
      }
    } catch (err) {
      if (!(err instanceof TooMany)) throw err;
      this.giveUp(err.message);
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
        this.giveUp("a user named without an account has none");
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
    if (this.spillFile === undefined) return;
    fs.closeSync(this.spillFile.fd);
    fs.rmSync(this.spillFile.file, { force: true });
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
   * Written from the interned bytes, so memory stays flat however many there are.
   */
  *referencesCopyData(): Generator<Buffer> {
    yield copyHeader();
    let out = Buffer.allocUnsafe(1 << 16);
    let o = 0;
    const text = (names: Interner, id: number) => {
      if (id < 0) {
        o = out.writeInt32BE(-1, o);
        return;
      }
      o = out.writeInt32BE(names.length(id), o);
      o = names.write(id, out, o);
    };
    const users = this.users.count;
    for (let i = 0; i < users + this.accounts.count; i++) {
      const user = i < users ? i : -1;
      const account = user >= 0 ? this.userAccount[user]! : i - users;
      if (user < 0 && !this.accountAlone[account]) continue;
      const need =
        12 + (user < 0 ? 0 : this.users.length(user)) + (account < 0 ? 0 : this.accounts.length(account));
      if (o + need > out.length) {
        yield out.subarray(0, o);
        out = Buffer.allocUnsafe(Math.max(1 << 16, need));
        o = 0;
      }
      o = out.writeInt16BE(2, o);
      text(this.users, user);
      text(this.accounts, account);
    }
    o = out.writeInt16BE(-1, o);
    yield out.subarray(0, o);
  }

  /**
   * The sums as COPY ... (FORMAT binary) data, whose rows Postgres reads in
   * about two thirds of the time CSV takes: entity_type, entity_id, day,
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
    if (this.spillFile !== undefined) {
      const chunk = Buffer.allocUnsafe(1 << 20);
      let position = 0;
      for (;;) {
        const n = fs.readSync(this.spillFile.fd, chunk, 0, chunk.length, position);
        if (n === 0) break;
        position += n;
        yield Buffer.from(chunk.subarray(0, n));
      }
    }
    yield* this.rows(sums, ranks);
    yield Buffer.from([255, 255]); // the trailer: a field count of -1
  }

  /**
   * The slots of the table's sums in the order of (entity_type, entity_id,
   * day, activity, module) as `ranks` order the values ("account" before
   * "user" before "user-account" in any collation), or grouped by entity.
   * Three counting sorts, least significant key first.
   */
  private keyOrder(sums: SumTable, ranks: ValueRanks | undefined): Int32Array {
    const slots = sums.entries();
    const n = slots.length;
    const entity = new Int32Array(n);
    let order: Int32Array = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      entity[i] = sums.entity[slots[i]!]!;
      order[i] = i;
    }
    if (!ranks) {
      let max = 0;
      for (let i = 0; i < n; i++) max = Math.max(max, entity[i]!);
      return positionsToSlots(sortBy(order, entity, max + 1), slots);
    }
    const pairs = this.pairActivity.map((_, p) => p);
    pairs.sort(
      (p, q) =>
        ranks.activities[this.pairActivity[p]!]! - ranks.activities[this.pairActivity[q]!]! ||
        ranks.modules[this.pairModule[p]!]! - ranks.modules[this.pairModule[q]!]!,
    );
    const pairRank = new Int32Array(pairs.length);
    pairs.forEach((p, rank) => {
      pairRank[p] = rank;
    });
    const keys = new Int32Array(n);
    for (let i = 0; i < n; i++) keys[i] = pairRank[sums.pair[slots[i]!]!]!;
    order = sortBy(order, keys, pairs.length);
    // Every day summed lies between firstDay and lastDay.
    for (let i = 0; i < n; i++) keys[i] = sums.day[slots[i]!]! - this.firstDay;
    order = sortBy(order, keys, Math.max(0, this.lastDay - this.firstDay) + 1);
    const accounts = this.accounts.count;
    const users = this.users.count;
    const userRanks = ranks.users;
    const accountRanks = ranks.accounts;
    for (let i = 0; i < n; i++) {
      const e = entity[i]!;
      const id = e >>> 2;
      const kind = e & 3;
      keys[i] =
        kind === ACCOUNT ? accountRanks[id]! : accounts + (kind === USER ? 0 : users) + userRanks[id]!;
    }
    return positionsToSlots(sortBy(order, keys, accounts + 2 * users), slots);
  }

  /** The table's sums as binary COPY rows, in keyOrder(). */
  private *rows(sums: SumTable, ranks?: ValueRanks): Generator<Buffer> {
    let out = Buffer.allocUnsafe(1 << 20);
    let o = 0;
    const int32 = (v: number) => {
      out[o++] = v >>> 24;
      out[o++] = (v >>> 16) & 255;
      out[o++] = (v >>> 8) & 255;
      out[o++] = v & 255;
    };
    const text = (names: Interner, id: number) => {
      int32(names.length(id));
      o = names.write(id, out, o);
    };
    const order = this.keyOrder(sums, ranks);
    for (let i = 0; i < order.length; i++) {
      const k = order[i]!;
      const entity = sums.entity[k]!;
      const day = sums.day[k]!;
      const pair = sums.pair[k]!;
      let sum = sums.sum[k]!;
      // A key in two slots (see resolveAccounts) comes twice in a row: added up.
      for (let next = order[i + 1]; next !== undefined; next = order[i + 1]) {
        if (sums.entity[next] !== entity || sums.day[next] !== day || sums.pair[next] !== pair) break;
        sum += sums.sum[next]!;
        i++;
      }
      const kind = entity & 3;
      const id = entity >>> 2;
      const names = kind === ACCOUNT ? this.accounts : this.users;
      const activity = this.pairActivity[pair]!;
      const module = this.pairModule[pair]!;
      const need = names.length(id) + this.activities.length(activity) + this.modules.length(module) + 64;
      if (o + need > out.length) {
        yield out.subarray(0, o);
        out = Buffer.allocUnsafe(Math.max(out.length, need));
        o = 0;
      }
      out[o++] = 0;
      out[o++] = 6;
      const name = KIND_NAMES[kind]!;
      int32(name.length);
      for (let i = 0; i < name.length; i++) out[o++] = name[i]!;
      text(names, id);
      int32(4);
      int32(day - PG_EPOCH_DAY);
      text(this.activities, activity);
      text(this.modules, module);
      int32(8);
      const high = Math.floor(sum / 4_294_967_296);
      int32(high);
      int32(sum - high * 4_294_967_296);
    }
    if (o > 0) yield out.subarray(0, o);
  }

  private giveUp(reason: string): void {
    this.abandoned ??= reason;
    this.sums = undefined;
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
    const offset = this.utc ? 0 : this.offsetAt(Math.floor(seconds / HOUR));
    if (offset === undefined) return;
    const day = Math.floor((seconds + offset) / DAY);
    if (day < MIN_DAY || day > MAX_DAY) {
      this.giveUp("a day outside the years 1 to 9999");
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
        if (known >= 0 && known !== account) this.giveUp("a user named with two accounts");
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

  /** Writes the sums so far to the spill file as partial sums, and empties the table. */
  private spill(sums: SumTable): void {
    if (this.spillFile === undefined) {
      const file = path.join(os.tmpdir(), `signaltag-sums-${randomBytes(8).toString("hex")}`);
      this.spillFile = { file, fd: fs.openSync(file, "w+", 0o600) };
    }
    for (const chunk of this.rows(sums)) fs.writeSync(this.spillFile.fd, chunk);
    sums.clear();
  }

  /** The zone's offset throughout one hour, or undefined (and the sums given up) when it changes within it. */
  private offsetAt(hour: number): number | undefined {
    const known = this.offsets.get(hour);
    if (known !== undefined) return known;
    const start = this.localOffset(hour * HOUR);
    const end = this.localOffset(hour * HOUR + HOUR - 1);
    if (start === undefined || start !== end) {
      this.giveUp("the time zone's offset changes within an hour");
      return undefined;
    }
    this.offsets.set(hour, start);
    return start;
  }

  private localOffset(seconds: number): number | undefined {
    if (!this.zone) return undefined;
    const parts = this.zone.formatToParts(new Date(seconds * 1000));
    const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
    const era = parts.find((p) => p.type === "era");
    if (era && era.value !== "AD") return undefined;
    const local =
      daysFromCivil(part("year"), part("month"), part("day")) * DAY +
      part("hour") * HOUR +
      part("minute") * 60 +
      part("second");
    return Number.isFinite(local) ? local - seconds : undefined;
  }
}
