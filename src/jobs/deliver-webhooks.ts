import { z } from "zod";
import { deliveryOptions } from "../webhooks/deliveries.ts";
import { drainOutbox } from "../webhooks/drain.ts";
import type { QueueSet } from "./connection.ts";
import { defineJobKind } from "./job-kind.ts";
import { QUEUES } from "./queues.ts";
import { sharedThrottles } from "./webhook-rate.ts";

/** The job scheduler that keeps a drain job coming while workers run. */
export const WEBHOOK_SCHEDULER_ID = "webhooks-drain";
const EVERY_MS = 1000;
/** A drain job returns once nothing has been due for this long, or after MAX_MS. */
const IDLE_MS = 1000;
// Short, so a stopping worker is not held long by a drain: the scheduler's next job takes over.
const MAX_MS = 10_000;

const deliverWebhooksPayload = z.object({
  /** Stop once nothing has been due for this long (ms). */
  untilIdleMs: z.number().int().min(0).max(60_000).optional(),
});

export type DeliverWebhooksPayload = z.input<typeof deliverWebhooksPayload>;

/**
 * Drains the webhook outbox: leases due deliveries (SKIP LOCKED, so any
 * number of these jobs and workers share it), sends them, records outcomes.
 * The outbox in Postgres is the truth; a job lost with its worker loses
 * nothing but time, since a delivery's lease expires and the next drain
 * sends it again with the same webhook-id. So a job is never retried: the
 * scheduler's next one takes over.
 */
export const deliverWebhooksJob = defineJobKind({
  name: "deliver-webhooks",
  queue: QUEUES.webhooks,
  schema: deliverWebhooksPayload,
  options: {
    attempts: 1,
    removeOnComplete: { age: 3600, count: 100 },
    removeOnFail: { age: 24 * 3600, count: 1000 },
  },
  // One runs every second while workers run: its failures are logged, its completions are not.
  logCompletions: false,
  async handle(payload, _job, _token, { db, config, queues }) {
    const signal = AbortSignal.timeout(MAX_MS);
    // What the drain has to say (a subscription disabled by 410, a database error it rides out) goes to the worker's stderr.
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    // Rate limits are kept in Redis: they hold across every worker, not per process.
    return drainOutbox(
      db,
      deliveryOptions(config, log),
      { signal, untilIdleMs: payload.untilIdleMs ?? IDLE_MS },
      sharedThrottles(queues.connection, queues.prefix),
    );
  },
});

/** Queues one drain now (after a replay or a test, for instance). */
export async function enqueueWebhookDrain(queues: QueueSet): Promise<void> {
  const queue = queues.get(deliverWebhooksJob.queue);
  await queue.add(deliverWebhooksJob.name, {} satisfies DeliverWebhooksPayload, deliverWebhooksJob.options);
}

/** A drain job every second while any worker runs (the worker calls this at start). */
export async function scheduleWebhookDrains(queues: QueueSet): Promise<void> {
  const queue = queues.get(deliverWebhooksJob.queue);
  await queue.upsertJobScheduler(
    WEBHOOK_SCHEDULER_ID,
    { every: EVERY_MS },
    {
      name: deliverWebhooksJob.name,
      data: {} satisfies DeliverWebhooksPayload,
      opts: deliverWebhooksJob.options,
    },
  );
}
