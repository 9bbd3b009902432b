import { FULL, grow, Interner, MAX_VALUES } from "./interner.ts";

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
    const u = Buffer.from(user, "utf8");
    const a = Buffer.from(account, "utf8");
    const id = this.users.id(u, 0, u.length);
    const accountId = id === FULL ? FULL : this.accounts.id(a, 0, a.length);
    if (accountId === FULL) {
      this.full = true;
      return;
    }
    if (id >= this.accountOf.length) this.accountOf = grow(this.accountOf, this.accountOf.length * 2);
    this.accountOf[id] = accountId;
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
