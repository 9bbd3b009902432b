/** At most this many distinct values of one kind (users, accounts, activities, modules). */
export const MAX_VALUES = 1 << 20;

/** What Interner.id() answers for a new value once MAX_VALUES are numbered: the caller gives up. */
export const FULL = -2;

/** A typed array of `length` elements holding `a`'s at its start. */
export function grow<T extends Int32Array | Float64Array>(a: T, length: number): T {
  const bigger = new (a.constructor as new (n: number) => T)(length);
  bigger.set(a);
  return bigger;
}

/** Distinct byte strings numbered in order of first sight, without a JS string per occurrence. */
export class Interner {
  private pool = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  private starts = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private slots = new Int32Array(2048);
  count = 0;

  /** The id found last: rows of one session repeat their user and account. */
  private last = -1;

  /** The number of buf[from, to), numbering it if new; FULL when it is new and MAX_VALUES are numbered. */
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
    if (id >= MAX_VALUES) return FULL;
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
