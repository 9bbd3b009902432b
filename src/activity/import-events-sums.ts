import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

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
 * this code does not compute exactly as Postgres would (a timestamp finer than
 * a microsecond, a day outside years 1-9999, a time zone whose offset this
 * process cannot tell per hour), the sums are given up and the import sums
 * the stored events in SQL as before.
 */

const HOUR = 3600;
const DAY = 86_400;
/**
 * At most this many sum slots (24 bytes each: 48 MB), filled to 70 %: about
 * 1.47M sums, those of about 2.1M events of the benchmark's kind.
 */
const MAX_SLOTS = 1 << 21;
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

  private find(buf: Uint8Array, from: number, to: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const mask = this.slots.length - 1;
    let slot = h & mask;
    for (;;) {
      const v = this.slots[slot]! - 1;
      if (v < 0) break;
      if (this.hashes[v] === h && this.equals(v, buf, from, to)) return v;
      slot = (slot + 1) & mask;
    }
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

function grow<T extends Int32Array | Float64Array>(a: T, length: number): T {
  const bigger = new (a.constructor as new (n: number) => T)(length);
  bigger.set(a);
  return bigger;
}

/**
 * Sums per (kind and entity, day, activity and module), in open addressing
 * over typed arrays; a slot's three key parts are side by side, so a probe
 * reads one cache line of keys (and one of sums).
 */
class SumTable {
  private keys: Int32Array;
  private sums: Float64Array;
  size = 0;

  constructor(private readonly maxSlots: number) {
    const slots = Math.min(1 << 16, maxSlots);
    this.keys = new Int32Array(slots << 2).fill(-1);
    this.sums = new Float64Array(slots);
  }

  add(entity: number, day: number, pair: number, count: number): void {
    const keys = this.keys;
    const mask = this.sums.length - 1;
    let slot = hash3(entity, day, pair) & mask;
    for (;;) {
      const k = slot << 2;
      const e = keys[k]!;
      if (e === -1) break;
      if (e === entity && keys[k + 1] === day && keys[k + 2] === pair) {
        this.sums[slot]! += count;
        return;
      }
      slot = (slot + 1) & mask;
    }
    const k = slot << 2;
    keys[k] = entity;
    keys[k + 1] = day;
    keys[k + 2] = pair;
    this.sums[slot] = count;
    if (++this.size * 10 > this.sums.length * 7 && this.sums.length < this.maxSlots) this.rehash();
  }

  /** Holding as many sums as it may. */
  get full(): boolean {
    return this.size * 10 > this.sums.length * 7;
  }

  clear(): void {
    this.keys.fill(-1);
    this.size = 0;
  }

  /**
   * The entries grouped by entity (a counting sort of the slots), so that the
   * rollup rows of an entity reach the same few index pages together.
   */
  *byEntity(): Generator<[entity: number, day: number, pair: number, sum: number]> {
    const keys = this.keys;
    const slots = this.sums.length;
    let max = 0;
    for (let slot = 0; slot < slots; slot++) max = Math.max(max, keys[slot << 2]!);
    const next = new Int32Array(max + 2);
    for (let slot = 0; slot < slots; slot++) {
      const e = keys[slot << 2]!;
      if (e !== -1) next[e + 1]!++;
    }
    for (let e = 1; e < next.length; e++) next[e]! += next[e - 1]!;
    const order = new Int32Array(this.size);
    for (let slot = 0; slot < slots; slot++) {
      const e = keys[slot << 2]!;
      if (e !== -1) order[next[e]!++] = slot;
    }
    for (const slot of order) {
      const k = slot << 2;
      yield [keys[k]!, keys[k + 1]!, keys[k + 2]!, this.sums[slot]!];
    }
  }

  private rehash(): void {
    const length = this.sums.length * 2;
    const { keys, sums } = this;
    this.keys = new Int32Array(length << 2).fill(-1);
    this.sums = new Float64Array(length);
    const mask = length - 1;
    for (let old = 0; old < sums.length; old++) {
      const o = old << 2;
      const e = keys[o]!;
      if (e === -1) continue;
      let slot = hash3(e, keys[o + 1]!, keys[o + 2]!) & mask;
      while (this.keys[slot << 2] !== -1) slot = (slot + 1) & mask;
      this.keys.set(keys.subarray(o, o + 3), slot << 2);
      this.sums[slot] = sums[old]!;
    }
  }
}

function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

function digits(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + buf[i]! - 48;
  return v;
}

/**
 * Seconds since 1970 (the fraction dropped) of a timestamp already checked to
 * be YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), or NaN when its
 * fraction is finer than a microsecond (Postgres rounds it, possibly into the
 * next day).
 */
export function epochSeconds(buf: Uint8Array, from: number, to: number): number {
  let i = from + 19;
  if (buf[i] === 46) {
    const start = ++i;
    while (i < to && buf[i]! >= 48 && buf[i]! <= 57) i++;
    if (i - start > 6) return NaN;
  }
  let offset = 0;
  if (buf[i] !== 90) {
    offset = (digits(buf, i + 1, 2) * 60 + digits(buf, i + 4, 2)) * 60;
    if (buf[i] === 45) offset = -offset;
  }
  const days = daysFromCivil(digits(buf, from, 4), digits(buf, from + 5, 2), digits(buf, from + 8, 2));
  return (
    days * DAY +
    digits(buf, from + 11, 2) * HOUR +
    digits(buf, from + 14, 2) * 60 +
    digits(buf, from + 17, 2) -
    offset
  );
}

/** A byte range [from, to) of a buffer. */
export type Span = readonly [from: number, to: number];

/** Postgres counts days in binary COPY data from 2000-01-01. */
const PG_EPOCH_DAY = daysFromCivil(2000, 1, 1);
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

  /** `maxSlots` (a power of two) bounds the sums kept in memory; tests make it small. */
  constructor(timezone: string, maxSlots = MAX_SLOTS) {
    this.sums = new SumTable(maxSlots);
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
   * One row of the fast path: each span a field's bytes (user or account may
   * be empty, not both), occurred a checked timestamp.
   */
  addSpans(
    buf: Uint8Array,
    user: Span,
    account: Span,
    activity: Span,
    module: Span,
    occurred: Span,
    count: number,
  ): void {
    if (this.sums === undefined) return;
    try {
      const seconds = epochSeconds(buf, occurred[0], occurred[1]);
      const u = user[1] > user[0] ? this.users.id(buf, user[0], user[1]) : -1;
      const a = account[1] > account[0] ? this.accounts.id(buf, account[0], account[1]) : -1;
      const pair = this.pairOf(
        this.activities.id(buf, activity[0], activity[1]),
        this.modules.id(buf, module[0], module[1]),
      );
      this.add(u, a, pair, seconds, count);
    } catch (err) {
      if (!(err instanceof TooMany)) throw err;
      this.giveUp(err.message);
    }
  }

  /** One row the exact converter settled: [user_id, account_id, activity, module, occurred_at, count, ...]. */
  addValues(values: readonly (string | null)[]): void {
    if (this.sums === undefined) return;
    const [user, account, activity, module, occurred, count] = values;
    const bytes = (v: string | null | undefined) => Buffer.from(v ?? "", "utf8");
    const b = [user, account, activity, module, occurred].map(bytes) as Buffer[];
    const whole = (x: Buffer): Span => [0, x.length];
    try {
      const u = b[0]!.length > 0 ? this.users.id(b[0]!, 0, b[0]!.length) : -1;
      const a = b[1]!.length > 0 ? this.accounts.id(b[1]!, 0, b[1]!.length) : -1;
      const pair = this.pairOf(
        this.activities.id(b[2]!, ...whole(b[2]!)),
        this.modules.id(b[3]!, ...whole(b[3]!)),
      );
      this.add(u, a, pair, epochSeconds(b[4]!, 0, b[4]!.length), Number(count));
    } catch (err) {
      if (!(err instanceof TooMany)) throw err;
      this.giveUp(err.message);
    }
  }

  /** Some sums wait for a user's account: a row named a user and left account_id empty. */
  throughUsers = false;

  /** Some keys may come more than once (partial sums, accounts through users), to be added up by key. */
  get partial(): boolean {
    return this.throughUsers || this.spillFile !== undefined;
  }

  /** Removes the spill file (call once the sums are written or given up). */
  release(): void {
    if (this.spillFile === undefined) return;
    fs.closeSync(this.spillFile.fd);
    fs.rmSync(this.spillFile.file, { force: true });
    this.spillFile = undefined;
  }

  /** The users and the accounts the rows name (at most `limit` of each). */
  named(limit: number): { users: string[]; accounts: string[] } {
    const list = (names: Interner) =>
      Array.from({ length: Math.min(limit, names.count) }, (_, id) => names.text(id));
    return { users: list(this.users), accounts: list(this.accounts) };
  }

  /**
   * The references to check: each user with the account its rows name (null
   * when they name none), and each account named by a row without a user.
   */
  references(): { user: string | null; account: string | null }[] {
    const out: { user: string | null; account: string | null }[] = [];
    for (let u = 0; u < this.users.count; u++) {
      const a = this.userAccount[u]!;
      out.push({ user: this.users.text(u), account: a < 0 ? null : this.accounts.text(a) });
    }
    for (let a = 0; a < this.accounts.count; a++) {
      if (this.accountAlone[a]) out.push({ user: null, account: this.accounts.text(a) });
    }
    return out;
  }

  /**
   * The sums as COPY ... (FORMAT binary) data, whose rows Postgres reads in
   * about two thirds of the time CSV takes: entity_type, entity_id, day,
   * activity, module, count, grouped by entity. An entity_type of
   * "user-account" stands for the account of the user entity_id (a row left
   * account_id empty). The partial sums of the spill file come first. Empties
   * the sums.
   */
  async *copyData(): AsyncGenerator<Buffer> {
    const sums = this.sums;
    if (!sums) return;
    this.sums = undefined;
    const header = Buffer.alloc(19);
    header.write("PGCOPY\n\xff\r\n\0", 0, "latin1"); // then flags and header extension length, 0
    yield header;
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
    yield* this.rows(sums);
    yield Buffer.from([255, 255]); // the trailer: a field count of -1
  }

  /** The table's sums as binary COPY rows, grouped by entity. */
  private *rows(sums: SumTable): Generator<Buffer> {
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
    for (const [entity, day, pair, sum] of sums.byEntity()) {
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
    if (Number.isNaN(seconds)) {
      this.giveUp("a timestamp finer than a microsecond");
      return;
    }
    const offset = this.utc ? 0 : this.offsetAt(Math.floor(seconds / HOUR));
    if (offset === undefined) return;
    const day = Math.floor((seconds + offset) / DAY);
    if (day < MIN_DAY || day > MAX_DAY) {
      this.giveUp("a day outside the years 1 to 9999");
      return;
    }
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
