import type { Config } from "../config.ts";
import type { DbOrTx } from "../db/client.ts";
import { InputError, NotFoundError } from "../errors/index.ts";
import { DEFAULT_RETRY_POLICY } from "./backoff.ts";
import { type DeliveryOptions, leaseMs, outcomeOf } from "./drain.ts";
import { sendDelivery } from "./send.ts";
import { messageId } from "./signing.ts";
import {
  type DeliveryRow,
  disableGone,
  insertPing,
  type OutboxFigures,
  outboxFigures,
  recordOutcomes,
  requeue,
  selectDeliveries,
} from "./sql/deliveries.ts";
import { selectSubscriptions } from "./sql/subscriptions.ts";

/** Delivery settings from the configuration. */
export function deliveryOptions(config: Config, log?: (line: string) => void): DeliveryOptions {
  return {
    timeoutMs: config.webhooks.timeoutMs,
    policy: {
      ...DEFAULT_RETRY_POLICY,
      baseMs: config.webhooks.retryBaseMs,
      giveUpAfterMs: config.webhooks.giveUpMs,
    },
    retention: {
      keepDeliveredDays: config.webhooks.keepDeliveredDays,
      keepFailedDays: config.webhooks.keepFailedDays,
    },
    log,
  };
}

export interface Delivery {
  id: number;
  webhookId: string;
  subscriptionId: number;
  type: string;
  tagEventId: number | null;
  entityType: string | null;
  entityId: string | null;
  tag: string | null;
  status: string;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

function shown(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    webhookId: messageId(r.id),
    subscriptionId: r.subscription_id,
    type: r.type,
    tagEventId: r.tag_event_id,
    entityType: r.entity_type,
    entityId: r.entity_id,
    tag: r.tag,
    status: r.status,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.status === "pending" ? r.next_attempt_at : null,
    lastAttemptAt: r.last_attempt_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
  };
}

async function subscriptionRow(db: DbOrTx, id: number) {
  const [row] = await selectSubscriptions(db, id);
  if (!row) throw new NotFoundError(`no webhook subscription ${id}; see signaltag webhooks list`);
  return row;
}

/** A subscription's deliveries, newest first (only failed ones with `failed`). */
export async function listDeliveries(
  db: DbOrTx,
  p: { subscriptionId: number; failed?: boolean; beforeId?: number; limit?: number },
): Promise<Delivery[]> {
  await subscriptionRow(db, p.subscriptionId);
  const limit = p.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new InputError("limit must be a whole number from 1 to 1000");
  }
  const list = await selectDeliveries(db, {
    subscriptionId: p.subscriptionId,
    status: p.failed ? "failed" : undefined,
    beforeId: p.beforeId,
    limit,
  });
  return list.map(shown);
}

/**
 * Sends a `ping` to a subscription now, from this process, and says how it
 * went. The ping is an outbox row like any other: if it fails it is retried.
 */
export async function pingSubscription(
  db: DbOrTx,
  subscriptionId: number,
  opts: DeliveryOptions,
): Promise<{
  deliveryId: number;
  webhookId: string;
  status: number | null;
  ok: boolean;
  error: string | null;
}> {
  const sub = await subscriptionRow(db, subscriptionId);
  const id = await insertPing(db, subscriptionId, leaseMs(opts.timeoutMs));
  const now = new Date();
  const leased = {
    id,
    subscription_id: sub.id,
    type: "ping",
    attempts: 1,
    created_at: now,
    url: sub.url,
    secret: sub.secret,
    rate_per_second: null,
    max_in_flight: sub.max_in_flight,
    tag_event_id: null,
    entity_type: null,
    entity_id: null,
    tag: null,
    source: null,
    rule_id: null,
    rule_name: null,
    reason: null,
    as_of: null,
    occurred_at: now,
  };
  const result = await sendDelivery(leased, opts.timeoutMs);
  if (result.kind === "gone")
    await disableGone(db, sub.id, `410 Gone from ${sub.url} at ${now.toISOString()}`);
  const outcome = outcomeOf(leased, result, opts);
  await recordOutcomes(db, [outcome]);
  return {
    deliveryId: id,
    webhookId: messageId(id),
    status: result.status,
    ok: result.kind === "delivered",
    error: outcome.error,
  };
}

/** Sends a delivery again (same webhook-id), or every failed delivery since a time. */
export async function replayDeliveries(
  db: DbOrTx,
  p: { id: number } | { since: Date; subscriptionId?: number },
): Promise<number[]> {
  const ids = await requeue(db, p);
  if ("id" in p && ids.length === 0) {
    throw new NotFoundError(`no delivery ${p.id} to replay (it does not exist or is being sent right now)`);
  }
  return ids;
}

export function parseDeliveryId(raw: string): number {
  const id = Number(raw.trim());
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(id) || id < 1) {
    throw new InputError(`delivery id must be a positive whole number, not ${JSON.stringify(raw)}`);
  }
  return id;
}

export interface WebhookFigures {
  subscriptionId: number;
  url: string;
  enabled: boolean;
  pending: number;
  /** Age of the oldest pending delivery; null when none is pending. */
  oldestPendingSeconds: number | null;
  failed: number;
}

/** Outbox figures per subscription, for `status` and /metrics. */
export async function webhookFigures(db: DbOrTx): Promise<WebhookFigures[]> {
  return (await outboxFigures(db)).map((f: OutboxFigures) => ({
    subscriptionId: f.subscription_id,
    url: f.url,
    enabled: f.enabled,
    pending: f.pending,
    oldestPendingSeconds:
      f.oldest_pending_seconds === null ? null : Math.round(f.oldest_pending_seconds * 10) / 10,
    failed: f.failed,
  }));
}
