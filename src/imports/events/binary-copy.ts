import type { Interner } from "./interner.ts";
import { ACCOUNT, type SumTable } from "./sums-table.ts";
import { PG_EPOCH_DAY } from "./time.ts";

/*
 * COPY ... (FORMAT binary) data written from the sums' interned bytes, so
 * that no JavaScript string is made per row and memory stays flat however
 * many rows there are.
 */

/** The header of binary COPY data: its signature, then flags and header extension length, 0. */
export function copyHeader(): Buffer {
  const header = Buffer.alloc(19);
  header.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  return header;
}

/** The trailer of binary COPY data: a field count of -1. */
export function copyTrailer(): Buffer {
  return Buffer.from([255, 255]);
}

/** The names of the entity kinds as entity_type has them, by kind (USER, ACCOUNT, ACCOUNT_OF_USER). */
const KIND_NAMES = [Buffer.from("user"), Buffer.from("account"), Buffer.from("user-account")];

/** The distinct values behind the sums' numbers. */
export interface SumValues {
  users: Interner;
  accounts: Interner;
  activities: Interner;
  modules: Interner;
  /** Per pair: its activity's and its module's number. */
  pairActivity: readonly number[];
  pairModule: readonly number[];
}

/**
 * The sums of the table's slots in `order` as binary COPY rows (no header or
 * trailer) of activity_daily's columns: entity_type, entity_id, day,
 * activity, module, count. A key in two slots next to each other in `order`
 * (see EventSums.resolveAccounts) is written once, its sums added up.
 */
export function* sumRows(sums: SumTable, order: Int32Array, values: SumValues): Generator<Buffer> {
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
  for (let i = 0; i < order.length; i++) {
    const k = order[i]!;
    const entity = sums.entity[k]!;
    const day = sums.day[k]!;
    const pair = sums.pair[k]!;
    let sum = sums.sum[k]!;
    for (let next = order[i + 1]; next !== undefined; next = order[i + 1]) {
      if (sums.entity[next] !== entity || sums.day[next] !== day || sums.pair[next] !== pair) break;
      sum += sums.sum[next]!;
      i++;
    }
    const kind = entity & 3;
    const id = entity >>> 2;
    const names = kind === ACCOUNT ? values.accounts : values.users;
    const activity = values.pairActivity[pair]!;
    const module = values.pairModule[pair]!;
    const need = names.length(id) + values.activities.length(activity) + values.modules.length(module) + 64;
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
    text(values.activities, activity);
    text(values.modules, module);
    int32(8);
    const high = Math.floor(sum / 4_294_967_296);
    int32(high);
    int32(sum - high * 4_294_967_296);
  }
  if (o > 0) yield out.subarray(0, o);
}

/**
 * (user, account) references as binary COPY data, header and trailer
 * included: each user with `accountOfUser[user]` (null when negative), then
 * each account for which `accountAlone[account]` is set, with a null user.
 */
export function* referenceRows(
  users: Interner,
  accounts: Interner,
  accountOfUser: Int32Array,
  accountAlone: Int32Array,
): Generator<Buffer> {
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
  const userCount = users.count;
  for (let i = 0; i < userCount + accounts.count; i++) {
    const user = i < userCount ? i : -1;
    const account = user >= 0 ? accountOfUser[user]! : i - userCount;
    if (user < 0 && !accountAlone[account]) continue;
    const need = 12 + (user < 0 ? 0 : users.length(user)) + (account < 0 ? 0 : accounts.length(account));
    if (o + need > out.length) {
      yield out.subarray(0, o);
      out = Buffer.allocUnsafe(Math.max(1 << 16, need));
      o = 0;
    }
    o = out.writeInt16BE(2, o);
    text(users, user);
    text(accounts, account);
  }
  o = out.writeInt16BE(-1, o);
  yield out.subarray(0, o);
}
