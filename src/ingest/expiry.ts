import type { Database } from "../db/client.ts";
import { expireWaiting, type WaitingKind } from "./sql/waiting.ts";

/** Most waiting messages one statement deletes: each batch is its own short transaction. */
const EXPIRE_BATCH = 1_000;
/** Most batches one sweep deletes; what is left expires in the next sweeps. */
const EXPIRE_BATCHES_PER_SWEEP = 50;

const DAY_MS = 86_400_000;

/**
 * Deletes the messages that waited more than `waitDays` for a user or
 * account never identified, in bounded batches, oldest first, counting them
 * in ingest_expired. Stops early when `stopped()` says the process is
 * closing. Returns how many of each kind it deleted.
 */
export async function expireOldWaiting(
  database: Database,
  opts: { waitDays: number; now: number; stopped?: () => boolean },
): Promise<Record<WaitingKind, number>> {
  const total: Record<WaitingKind, number> = { track: 0, identify: 0, member: 0 };
  const before = new Date(opts.now - opts.waitDays * DAY_MS);
  for (let batch = 0; batch < EXPIRE_BATCHES_PER_SWEEP && !opts.stopped?.(); batch++) {
    const gone = await expireWaiting(database.db, before, EXPIRE_BATCH);
    let n = 0;
    for (const kind of Object.keys(gone) as WaitingKind[]) {
      total[kind] += gone[kind];
      n += gone[kind];
    }
    if (n < EXPIRE_BATCH) break;
  }
  return total;
}
