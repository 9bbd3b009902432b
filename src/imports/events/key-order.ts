import { ACCOUNT, type SumTable, USER } from "./sums-table.ts";

/**
 * Where each distinct value the sums hold falls in the database's order of
 * text: per kind, the rank of each value numbered as EventSums.values() lists it.
 */
export interface ValueRanks {
  users: ArrayLike<number>;
  accounts: ArrayLike<number>;
  activities: ArrayLike<number>;
  modules: ArrayLike<number>;
}

/** What the order of the sums needs besides their table: the values behind its numbers. */
export interface SumsShape {
  /** Per pair: its activity's and its module's number. */
  pairActivity: readonly number[];
  pairModule: readonly number[];
  /** Every day summed lies between these (days since 1970). */
  firstDay: number;
  lastDay: number;
  /** How many users and accounts are numbered. */
  users: number;
  accounts: number;
}

/**
 * The positions 0..n-1 stably sorted by keys[i], whole numbers below
 * `buckets`, applied after `order` (positions already sorted by less
 * significant keys): a counting sort, linear in entries and buckets.
 */
export function countingSort(order: Int32Array, keys: Int32Array, buckets: number): Int32Array {
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

/** The slots at the given positions of `slots` (overwrites `order`). */
function positionsToSlots(order: Int32Array, slots: Int32Array): Int32Array {
  for (let i = 0; i < order.length; i++) order[i] = slots[order[i]!]!;
  return order;
}

/**
 * The slots of the table's sums in the order of (entity_type, entity_id,
 * day, activity, module) as `ranks` order the values ("account" before
 * "user" before "user-account" in any collation), or grouped by entity
 * without ranks. Three counting sorts, least significant key first.
 */
export function keyOrder(sums: SumTable, shape: SumsShape, ranks: ValueRanks | undefined): Int32Array {
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
    return positionsToSlots(countingSort(order, entity, max + 1), slots);
  }
  const { pairActivity, pairModule } = shape;
  const pairs = pairActivity.map((_, p) => p);
  pairs.sort(
    (p, q) =>
      ranks.activities[pairActivity[p]!]! - ranks.activities[pairActivity[q]!]! ||
      ranks.modules[pairModule[p]!]! - ranks.modules[pairModule[q]!]!,
  );
  const pairRank = new Int32Array(pairs.length);
  pairs.forEach((p, rank) => {
    pairRank[p] = rank;
  });
  const keys = new Int32Array(n);
  for (let i = 0; i < n; i++) keys[i] = pairRank[sums.pair[slots[i]!]!]!;
  order = countingSort(order, keys, pairs.length);
  for (let i = 0; i < n; i++) keys[i] = sums.day[slots[i]!]! - shape.firstDay;
  order = countingSort(order, keys, Math.max(0, shape.lastDay - shape.firstDay) + 1);
  const { accounts, users } = shape;
  const userRanks = ranks.users;
  const accountRanks = ranks.accounts;
  for (let i = 0; i < n; i++) {
    const e = entity[i]!;
    const id = e >>> 2;
    const kind = e & 3;
    keys[i] = kind === ACCOUNT ? accountRanks[id]! : accounts + (kind === USER ? 0 : users) + userRanks[id]!;
  }
  return positionsToSlots(countingSort(order, keys, accounts + 2 * users), slots);
}
