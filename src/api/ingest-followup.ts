import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { enqueueAfterImport } from "../jobs/after-changes.ts";
import type { QueueSet } from "../jobs/connection.ts";
import { loadRulesCached } from "../jobs/rules-cache.ts";
import { reconcileEntities, runRules, selectRules } from "../runs/runner.ts";

/** Most distinct entities gathered between two hand-offs; beyond, one run of every rule is cheaper and complete. */
const MAX_GATHERED = 50_000;
/** Most entities one in-process re-evaluation takes at a time, so other requests keep being answered between them. */
const INLINE_SLICE = 500;

export interface IngestFollowUp {
  /** Entities whose data a commit changed (already committed). */
  touched(t: { users: readonly string[]; accounts: readonly string[] }): void;
  close(): Promise<void>;
}

/**
 * What follows an ingestion commit: the touched users and accounts are
 * gathered for a short while (commits come many a second) and handed on
 * together, as a file import hands on its touched entities: with a queue,
 * debounced re-evaluation jobs for a worker; without one (the embedded
 * database, where this server is the only process), this process
 * re-evaluates them itself in the background, a slice at a time. The data
 * has committed either way, so a failure is logged and the next scheduled
 * run catches up.
 */
export function ingestFollowUp(opts: {
  database: Database;
  config: Config;
  queues: QueueSet | undefined;
  log: FastifyBaseLogger;
}): IngestFollowUp {
  const { config, queues, log } = opts;
  const users = new Set<string>();
  const accounts = new Set<string>();
  let overflow = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  // The gathering window: the queue's own debounce restarts with each hand-off, so it can be short.
  const windowMs = Math.min(250, config.queue.debounceMs);

  async function handOff(): Promise<void> {
    timer = undefined;
    const touched = { users: [...users], accounts: [...accounts], complete: !overflow };
    users.clear();
    accounts.clear();
    overflow = false;
    if (queues) {
      if (queues.connection.status !== "ready") {
        log.warn(
          { redis: queues.connection.status },
          "usage stored, but its re-evaluation could not be queued",
        );
        return;
      }
      await enqueueAfterImport(queues, touched, { debounceMs: config.queue.debounceMs });
      return;
    }
    const rules = await loadRulesCached(config.rulesDir);
    const runOpts = {
      timezone: config.timezone,
      trigger: "event" as const,
      removalGuard: config.removalGuard,
    };
    if (!touched.complete) {
      // More entities than were gathered: one run of every rule covers them all (incremental, the change log tells).
      await runRules(opts.database.db, rules, selectRules(rules, []), { ...runOpts, asOf: new Date() });
      return;
    }
    const run = async (type: "user" | "account", ids: string[]) => {
      for (let i = 0; i < ids.length && !closed; i += INLINE_SLICE) {
        await reconcileEntities(opts.database.db, rules, type, ids.slice(i, i + INLINE_SLICE), {
          ...runOpts,
          asOf: new Date(),
        });
      }
    };
    await run("account", touched.accounts);
    await run("user", touched.users);
  }

  function schedule(): void {
    if (timer || running || closed) return;
    timer = setTimeout(() => {
      running = handOff()
        .catch((err) => log.warn({ err }, "usage stored, but its re-evaluation failed"))
        .finally(() => {
          running = undefined;
          if (users.size > 0 || accounts.size > 0 || overflow) schedule();
        });
    }, windowMs);
  }

  return {
    touched(t) {
      if (closed) return;
      for (const id of t.users)
        if (users.size < MAX_GATHERED) users.add(id);
        else overflow = true;
      for (const id of t.accounts)
        if (accounts.size < MAX_GATHERED) accounts.add(id);
        else overflow = true;
      if (users.size > 0 || accounts.size > 0 || overflow) schedule();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
