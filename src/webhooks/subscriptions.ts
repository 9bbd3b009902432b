import type { DbOrTx } from "../db/client.ts";
import { InputError, NotFoundError } from "../errors/index.ts";
import { newSecret } from "./signing.ts";
import {
  deleteSubscription,
  insertSubscription,
  type SubscriptionRow,
  selectSubscriptions,
  updateEnabled,
} from "./sql/subscriptions.ts";

export const WEBHOOK_EVENTS = ["tag.added", "tag.removed"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/**
 * Requests in flight at once per subscription and worker process, unless the
 * subscription says otherwise: enough for a worker to send 2,000 a second to
 * a receiver answering in about 10 ms, few enough for most receivers.
 */
export const DEFAULT_MAX_IN_FLIGHT = 32;
/** Source kinds a subscription can filter on; `rule:<id>` names one rule. */
export const SOURCE_KINDS = ["rule", "manual", "bulk", "file"] as const;

export interface SubscriptionInput {
  url: string;
  events?: readonly string[];
  tags?: readonly string[];
  entityType?: string | null;
  sources?: readonly string[];
  maxInFlight?: number;
  ratePerSecond?: number | null;
  actor?: string | null;
}

/** A subscription as shown: never its secret. */
export interface Subscription {
  id: number;
  url: string;
  events: string[];
  tags: string[] | null;
  entityType: "user" | "account" | null;
  sources: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  maxInFlight: number;
  ratePerSecond: number | null;
  createdBy: string | null;
  createdAt: string;
}

export function shownSubscription(r: SubscriptionRow): Subscription {
  return {
    id: r.id,
    url: r.url,
    events: r.events,
    tags: r.tags,
    entityType: r.entity_type,
    sources: r.sources,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    maxInFlight: r.max_in_flight,
    ratePerSecond: r.rate_per_second,
    createdBy: r.created_by,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new InputError(`url ${JSON.stringify(raw)} is not a URL; give one like https://example.com/hooks`, {
      details: { field: "url" },
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InputError(`url must be http or https, not ${url.protocol}`, { details: { field: "url" } });
  }
  return url.toString();
}

function checkEvents(events: readonly string[] | undefined): string[] {
  if (!events || events.length === 0) return [...WEBHOOK_EVENTS];
  for (const e of events) {
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(e)) {
      throw new InputError(`event ${JSON.stringify(e)} is not one of ${WEBHOOK_EVENTS.join(", ")}`, {
        details: { field: "events" },
      });
    }
  }
  return [...new Set(events)].sort();
}

function checkSources(sources: readonly string[] | undefined): string[] | null {
  if (!sources || sources.length === 0) return null;
  for (const s of sources) {
    if (!(SOURCE_KINDS as readonly string[]).includes(s) && !/^rule:.+/.test(s)) {
      throw new InputError(
        `source ${JSON.stringify(s)} is not one of ${SOURCE_KINDS.join(", ")} or rule:<rule id>`,
        { details: { field: "sources" } },
      );
    }
  }
  return [...new Set(sources)].sort();
}

function checkTags(tags: readonly string[] | undefined): string[] | null {
  if (!tags || tags.length === 0) return null;
  const names = tags.map((t) => t.trim().normalize("NFC").toLowerCase());
  if (names.some((n) => n === ""))
    throw new InputError("a tag filter must not be empty", { details: { field: "tags" } });
  return [...new Set(names)].sort();
}

function checkType(type: string | null | undefined): "user" | "account" | null {
  if (type === undefined || type === null) return null;
  if (type !== "user" && type !== "account") {
    throw new InputError(`type must be user or account, not ${JSON.stringify(type)}`, {
      details: { field: "entityType" },
    });
  }
  return type;
}

function checkWhole(value: number | null | undefined, field: string, min: number, max: number) {
  if (value === undefined || value === null) return value;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${field} must be a whole number from ${min} to ${max}`, { details: { field } });
  }
  return value;
}

/** Creates a subscription; its secret is returned here and never again. */
export async function createSubscription(
  db: DbOrTx,
  input: SubscriptionInput,
): Promise<{ subscription: Subscription; secret: string }> {
  const secret = newSecret();
  const row = await insertSubscription(db, {
    url: checkUrl(input.url),
    events: checkEvents(input.events),
    tags: checkTags(input.tags),
    entityType: checkType(input.entityType),
    sources: checkSources(input.sources),
    secret,
    maxInFlight: checkWhole(input.maxInFlight, "maxInFlight", 1, 1000) ?? DEFAULT_MAX_IN_FLIGHT,
    ratePerSecond: checkWhole(input.ratePerSecond, "ratePerSecond", 1, 100_000) ?? null,
    createdBy: input.actor ?? null,
  });
  return { subscription: shownSubscription(row), secret };
}

export async function listSubscriptions(db: DbOrTx): Promise<Subscription[]> {
  return (await selectSubscriptions(db)).map(shownSubscription);
}

export function parseSubscriptionId(raw: string | number): number {
  const id = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (!Number.isInteger(id) || id < 1 || id > 2_147_483_647) {
    throw new InputError(`subscription id must be a positive whole number, not ${JSON.stringify(raw)}`);
  }
  return id;
}

export async function getSubscription(db: DbOrTx, id: number): Promise<Subscription> {
  const [row] = await selectSubscriptions(db, id);
  if (!row) throw new NotFoundError(`no webhook subscription ${id}; see signaltag webhooks list`);
  return shownSubscription(row);
}

/** Enables or disables a subscription; a disabled one gets no new deliveries and sends none. */
export async function setSubscriptionEnabled(
  db: DbOrTx,
  id: number,
  enabled: boolean,
  reason: string | null = null,
): Promise<Subscription> {
  const row = await updateEnabled(db, id, enabled, enabled ? null : reason);
  if (!row) throw new NotFoundError(`no webhook subscription ${id}; see signaltag webhooks list`);
  return shownSubscription(row);
}

/** Removes a subscription and its deliveries. */
export async function removeSubscription(db: DbOrTx, id: number): Promise<{ deliveries: number }> {
  const removed = await deleteSubscription(db, id);
  if (!removed) throw new NotFoundError(`no webhook subscription ${id}; see signaltag webhooks list`);
  return removed;
}
