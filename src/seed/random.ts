/**
 * Deterministic randomness for the synthetic workspace. Every entity draws
 * from its own generator, keyed by (seed, stream, index), so an entity's data
 * depends only on the seed and its position: streams can be regenerated in
 * any order (accounts, then users, then events) without keeping state.
 */

/** Streams keep the draws for one purpose independent of every other. */
export const Stream = {
  accountDeck: 1,
  account: 2,
  accountSize: 3,
  userDeck: 4,
  user: 5,
  userEvents: 6,
  accountEvents: 7,
} as const;

/** murmur3's finalizer: a bijective 32-bit mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hash32(parts: readonly number[], salt: number): number {
  let h = fmix32(salt ^ 0x9e3779b9);
  for (const p of parts) h = fmix32((h ^ fmix32(p >>> 0)) + 0x7f4a7c15);
  return h;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator): 128-bit state, passes PractRand. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** One of `items`, with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.float() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles in place (Fisher–Yates) and returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** The generator for one entity of one stream. `seed` is any non-negative safe integer. */
export function rngFor(seed: number, stream: number, index: number): Rng {
  const parts = [seed % 4294967296, Math.floor(seed / 4294967296), stream, index];
  return new Rng(hash32(parts, 1), hash32(parts, 2), hash32(parts, 3), hash32(parts, 4));
}

/**
 * Stratified assignment: entities come in blocks of `deck.length`, and each
 * block is a seeded permutation of the deck. Proportions are then exact per
 * block, so even a small workspace holds every kind of entity.
 */
export class Deck<T> {
  private block = -1;
  private order: T[] = [];

  constructor(
    private readonly seed: number,
    private readonly stream: number,
    private readonly deck: readonly T[],
  ) {}

  at(index: number): T {
    const block = Math.floor(index / this.deck.length);
    if (block !== this.block) {
      this.order = rngFor(this.seed, this.stream, block).shuffle([...this.deck]);
      this.block = block;
    }
    return this.order[index % this.deck.length] as T;
  }
}

/** Expands `[value, copies]` pairs into a deck. */
export function deckOf<T>(entries: readonly (readonly [T, number])[]): T[] {
  return entries.flatMap(([value, copies]) => Array.from({ length: copies }, () => value));
}
