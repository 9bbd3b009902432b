import type { Database } from "../db/client.ts";
import { expireOldWaiting } from "./expiry.ts";
import { GroupCommit } from "./group-commit.ts";
import { mapMessage, type RequestContext } from "./mapping.ts";
import type { WaitingKind } from "./sql/waiting.ts";
import type { IgnoredKind, MessageProblem, WriteOutcome } from "./types.ts";
import { type Accepted, writeMessages } from "./write.ts";

/** Usage over HTTP (Segment's tracking spec): what the API's ingestion routes call. */
export { IGNORED_TYPES, MESSAGE_TYPES, type MessageType, type RequestContext } from "./mapping.ts";
export { type WaitingKind, type WaitingSummary, waitingSummary } from "./sql/waiting.ts";
export type { MessageProblem, WriteOutcome } from "./types.ts";

/** Most messages one transaction stores; more wait for the next round. */
const MAX_COMMIT_MESSAGES = 5_000;
/** How often a commit also applies what waits for users and accounts known through a file import. */
const SWEEP_EVERY_MS = 10_000;
/** Most messages handed in and not yet committed before requests are refused with 503. */
const MAX_PENDING_MESSAGES = 50_000;

/** What became of one request's messages. */
export interface IngestResult {
  /** Messages mapped and committed (stored, counted as duplicates, or waiting for their entity). */
  committed: number;
  /** page, screen, alias and anonymousId-only messages: accepted, not stored. */
  ignored: Partial<Record<IgnoredKind, number>>;
  /** Messages that can never be stored, by index in the request. */
  problems: MessageProblem[];
  /** Counts by message type of those committed. */
  byType: Record<"track" | "identify" | "group", number>;
}

export interface Ingest {
  /** Maps the messages and stores the good ones; resolves once they are committed. */
  accept(messages: readonly unknown[], ctx: RequestContext): Promise<IngestResult>;
  /** Messages handed in and not committed yet. */
  readonly pending: number;
  /** Stores what was handed in, then refuses more. */
  close(): Promise<void>;
}

/**
 * The ingestion of one process: one group commit over `database`, with
 * `commits` transactions in flight at once on Postgres.
 * `committed` hears each commit's outcome (the entities whose data changed,
 * for re-evaluation) after it committed; it must not throw. With `waitDays`,
 * each sweep also deletes the messages that waited longer for a user or
 * account never identified; `expired` hears how many, `expiryFailed` why it
 * could not (the next sweep tries again).
 */
export function openIngest(
  database: Database,
  opts: {
    timezone: string;
    committed?: (outcome: WriteOutcome) => void;
    sweepMs?: number;
    waitDays?: number;
    /** The clock receive times are taken from (epoch ms); retention is measured by it. */
    now?: () => number;
    expired?: (counts: Record<WaitingKind, number>) => void;
    expiryFailed?: (err: unknown) => void;
    /** Commits in flight at once (SIGNALTAG_INGEST_COMMITS); the embedded database always runs one. */
    commits?: number;
  },
): Ingest {
  let sweepDue = true;
  let closed = false;
  let expiring: Promise<void> | undefined;
  const group = new GroupCommit<Accepted, WriteOutcome>(
    async (items) => {
      const sweep = sweepDue;
      sweepDue = false;
      const outcome = await writeMessages(database, items, opts.timezone, { sweep });
      opts.committed?.(outcome);
      return outcome;
    },
    {
      maxBatch: MAX_COMMIT_MESSAGES,
      maxPending: MAX_PENDING_MESSAGES,
      inFlight: database.kind === "pglite" ? 1 : (opts.commits ?? 1),
    },
  );
  const waitDays = opts.waitDays ?? 0;
  // Users and accounts may become known through a file import, which knows nothing of the
  // messages waiting for them: every so often a commit (an empty one when none is coming)
  // applies those too. The same sweep lets go of what waited past the retention, in its own
  // statements, so an expiry never holds a commit back.
  const sweeper = setInterval(() => {
    sweepDue = true;
    group.submit([]).catch(() => {});
    if (waitDays > 0 && expiring === undefined) {
      expiring = expireOldWaiting(database, {
        waitDays,
        now: opts.now?.() ?? Date.now(),
        stopped: () => closed,
      })
        .then((counts) => {
          if (counts.track + counts.identify + counts.member > 0) opts.expired?.(counts);
        })
        .catch((err) => opts.expiryFailed?.(err))
        .finally(() => {
          expiring = undefined;
        });
    }
  }, opts.sweepMs ?? SWEEP_EVERY_MS);
  sweeper.unref();
  return {
    async accept(messages, ctx) {
      const problems: MessageProblem[] = [];
      const accepted: Accepted[] = [];
      const ignored: IngestResult["ignored"] = {};
      const byType = { track: 0, identify: 0, group: 0 };
      const receivedAt = new Date(ctx.receivedAt).toISOString();
      messages.forEach((raw, index) => {
        const outcome = mapMessage(raw, index, ctx);
        if (!outcome.ok) problems.push(outcome.problem);
        else if (outcome.mapped.type === "ignored") {
          ignored[outcome.mapped.kind] = (ignored[outcome.mapped.kind] ?? 0) + 1;
        } else {
          byType[outcome.mapped.type]++;
          accepted.push({ mapped: outcome.mapped, receivedAt });
        }
      });
      if (accepted.length > 0) await group.submit(accepted);
      return { committed: accepted.length, ignored, problems, byType };
    },
    get pending() {
      return group.waiting;
    },
    close: async () => {
      closed = true;
      clearInterval(sweeper);
      await expiring;
      await group.close();
    },
  };
}
