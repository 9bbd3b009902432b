import { IngestBusyError } from "../errors/index.ts";

/**
 * Group commit: requests hand in their messages and wait; up to `inFlight`
 * transactions at a time each store everything handed in (up to `maxBatch`
 * messages) since one began, so a flood of small requests costs one commit
 * per round instead of one each, and each request is answered only once the
 * transaction holding its messages has committed. Several commits in flight
 * keep the database's cores busy while one waits on its disk or on a lock.
 * Memory is bounded: at most `inFlight` commits of `maxBatch` messages run,
 * and while more than `maxPending` wait, new requests are refused at once
 * (503, retriable: Segment's libraries retry) rather than queued.
 */
export class GroupCommit<T, R> {
  private pending: { items: readonly T[]; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private pendingCount = 0;
  /** Commit loops running, at most `inFlight`. */
  private loops = 0;
  /** close() waiting for the last loop to end. */
  private readonly stopped: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly write: (items: T[]) => Promise<R>,
    private readonly opts: { maxBatch: number; maxPending: number; inFlight?: number; parallelFrom?: number },
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
      if (
        this.loops === 0 ||
        (this.loops < (this.opts.inFlight ?? 1) && this.pendingCount >= this.parallelFrom)
      ) {
        this.loops++;
        void this.drain();
      }
    });
  }

  /**
   * Messages that must wait before a second commit starts beside a running
   * one. A commit's cost is mostly per statement under a few hundred
   * messages, so commits started as soon as a request arrives would each
   * hold one request and cost several times more a message than one round
   * gathered while the running commit works: another commit starts only for
   * a backlog worth one.
   */
  private get parallelFrom(): number {
    return this.opts.parallelFrom ?? Math.ceil(this.opts.maxBatch / 10);
  }

  /** Messages handed in and not yet committed. */
  get waiting(): number {
    return this.pendingCount;
  }

  /** Refuses new requests and waits for those handed in to be committed (or to fail). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.loops > 0) await new Promise<void>((resolve) => this.stopped.push(resolve));
  }

  /**
   * One commit loop: commits what waits, round after round. The last loop
   * running goes on while anything waits; another goes on only for a backlog
   * of `parallelFrom`, so what arrives meanwhile gathers into the next round.
   * A loop stops in the same step as it decides to, so a request handed in
   * afterwards finds a loop that will take it or starts one.
   */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0 && (this.loops === 1 || this.pendingCount >= this.parallelFrom)) {
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
      this.loops--;
      if (this.loops === 0) for (const resolve of this.stopped.splice(0)) resolve();
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
