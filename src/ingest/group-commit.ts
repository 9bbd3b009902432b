import { IngestBusyError } from "../errors/index.ts";

/**
 * Group commit: requests hand in their messages and wait; one transaction at
 * a time stores everything handed in since the last one began, so a flood of
 * small requests costs one commit per round instead of one each, and each
 * request is answered only once the transaction holding its messages has
 * committed. Memory is bounded: a commit takes at most `maxBatch` messages,
 * and while more than `maxPending` wait, new requests are refused at once
 * (503, retriable: Segment's libraries retry) rather than queued.
 */
export class GroupCommit<T, R> {
  private pending: { items: readonly T[]; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private pendingCount = 0;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly write: (items: T[]) => Promise<R>,
    private readonly opts: { maxBatch: number; maxPending: number },
  ) {}

  /** Resolves with the outcome of the commit that stored `items`, once it committed. */
  submit(items: readonly T[]): Promise<R> {
    if (this.closed) return Promise.reject(new IngestBusyError("the server is shutting down; send again"));
    if (this.pendingCount + items.length > this.opts.maxPending && this.pendingCount > 0) {
      return Promise.reject(
        new IngestBusyError(`${this.pendingCount} messages are waiting to be stored; send again shortly`),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.pendingCount += items.length;
      this.running ??= this.drain();
    });
  }

  /** Messages handed in and not yet committed. */
  get waiting(): number {
    return this.pendingCount;
  }

  /** Refuses new requests and waits for those handed in to be committed (or to fail). */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.takeGroup();
        try {
          const outcome = await this.write(group.flatMap((g) => g.items as T[]));
          for (const g of group) g.resolve(outcome);
        } catch (err) {
          if (group.length === 1) {
            group[0]!.reject(err);
            continue;
          }
          // One request's messages must not fail the others: each is committed again on its own.
          for (const g of group) {
            try {
              g.resolve(await this.write([...g.items]));
            } catch (own) {
              g.reject(own);
            }
          }
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private takeGroup() {
    const group: typeof this.pending = [];
    let n = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      if (group.length > 0 && n + next.items.length > this.opts.maxBatch) break;
      group.push(next);
      n += next.items.length;
      this.pending.shift();
    }
    this.pendingCount -= n;
    return group;
  }
}
