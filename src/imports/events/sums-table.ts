/**
 * An entity of the sums is a number: the id of its user or account shifted
 * left by two, and its kind in the low two bits.
 */
export const USER = 0;
export const ACCOUNT = 1;
/** An account through its user: the row named a user and left account_id empty. */
export const ACCOUNT_OF_USER = 2;

/**
 * Sums per (kind and entity, day, activity and module), in open addressing
 * over four parallel arrays (20 bytes a slot): a slot's entity (-1 when
 * empty), day, pair and sum.
 */
export class SumTable {
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
