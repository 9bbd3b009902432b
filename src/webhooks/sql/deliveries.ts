import { type SQL, sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { inTransaction } from "../../db/transaction.ts";

/** A delivery's type: a ping has no tag event; the others are named after their tag event's action. */
function deliveryType(delivery: string, event: string): SQL {
  return sql.raw(`case when ${delivery}.tag_event_id is null then 'ping' else 'tag.' || ${event}.action end`);
}

/**
 * Whether a candidate delivery `d` (of a lateral over quota `q`) is held
 * back: an earlier tag event of its entity, since the subscription's oldest
 * pending one, has a pending delivery here. Nested scalar
 * subqueries, one table each, so the plan cannot start from the pending rows
 * (statistics taken before a flood make that look cheap): the candidate's tag
 * event by key, its entity's earlier events backwards on tag_events' entity
 * index, each looked up in the fresh and the retry indexes.
 */
function heldBack(d: SQL): SQL {
  const pending = (attempts: SQL) => sql`(select p.id from webhook_deliveries p
      where p.subscription_id = ${d}.subscription_id and p.tag_event_id = b.id
        and p.status = 'pending' and ${attempts} limit 1)`;
  return sql`(${d}.tag_event_id is not null and (
      select (select b.id from tag_events b
              where b.entity_type = c.entity_type and b.entity_id = c.entity_id
                and b.id < c.id and b.id >= q.first_event
                and coalesce(${pending(sql`p.attempts = 0`)}, ${pending(sql`p.attempts > 0`)}) is not null
              order by b.id desc limit 1)
      from tag_events c where c.id = ${d}.tag_event_id) is not null)`;
}

/** A leased delivery with what its request needs. */
export interface LeasedDelivery {
  id: number;
  subscription_id: number;
  type: string;
  attempts: number;
  created_at: string | Date;
  url: string;
  secret: string;
  rate_per_second: number | null;
  max_in_flight: number;
  tag_event_id: number | null;
  entity_type: string | null;
  entity_id: string | null;
  tag: string | null;
  source: string | null;
  rule_id: string | null;
  rule_name: string | null;
  reason: string | null;
  as_of: string | Date | null;
  occurred_at: string | Date;
}

/**
 * Leases up to `limit` due deliveries (each subscription at most `waves`
 * times its max_in_flight, at most its rate per second, and no more than
 * leaves `2 * waves` times max_in_flight leased in all, so that two rounds
 * can overlap: one sending while the next leases; with a rate limit, no more
 * than two seconds' worth leased in all, so rows do not wait out their lease
 * behind the limit and every worker gets a share): pending,
 * due, not leased by a live worker, and the first pending one of its entity
 * for its subscription, so an entity's deliveries go out one at a time in
 * tag-event order. Rows other workers are leasing are skipped (SKIP LOCKED),
 * so any number of workers share the outbox. The lease outlives the request's
 * timeout; a worker that dies leaves it to expire, and the row is leased again.
 */
export async function leaseDue(
  db: DbOrTx,
  p: { limit: number; leaseMs: number; waves: number },
): Promise<LeasedDelivery[]> {
  return inTransaction(db, async (tx) => {
    // Without JIT: once the outbox holds a flood and has statistics, the planner prices this statement
    // high enough to compile it, which took longer than the lease itself (about 0.5 s at 100,000 pending).
    await tx.execute(sql`select set_config('jit', 'off', true)`);
    return leaseStatement(tx, p);
  });
}

function leaseStatement(
  db: DbOrTx,
  p: { limit: number; leaseMs: number; waves: number },
): Promise<LeasedDelivery[]> {
  return rows<LeasedDelivery>(
    db,
    sql`with quota as (
          select s.id, s.url, s.secret, s.rate_per_second, s.max_in_flight,
                 least(coalesce(s.rate_per_second, 2147483647), s.max_in_flight * ${p.waves},
                   least(s.max_in_flight * ${2 * p.waves}, coalesce(s.rate_per_second::bigint * 2, 2147483647)) - (
                     select count(*) from webhook_deliveries l
                     where l.subscription_id = s.id and l.status = 'pending' and l.leased_until is not null
                       and l.leased_until > clock_timestamp()))::int as n,
                 -- No pending delivery is older than this tag event: an entity's events before it need no look.
                 least((select min(m.tag_event_id) from webhook_deliveries m
                        where m.subscription_id = s.id and m.status = 'pending' and m.attempts = 0),
                       (select min(m.tag_event_id) from webhook_deliveries m
                        where m.subscription_id = s.id and m.status = 'pending' and m.attempts > 0)) as first_event
          from webhook_subscriptions s where s.enabled),
        retries as (
          select d.id from quota q
          cross join lateral (
            select d.id from webhook_deliveries d
            where d.subscription_id = q.id and d.status = 'pending' and d.attempts > 0
              and d.next_attempt_at <= clock_timestamp()
              and (d.leased_until is null or d.leased_until <= clock_timestamp())
              and not ${heldBack(sql`d`)}
            order by d.next_attempt_at, d.id
            limit greatest(q.n, 0)
            for update of d skip locked) d
          limit ${p.limit}),
        fresh as (
          select d.id from quota q
          cross join lateral (
            select d.id from webhook_deliveries d
            where d.subscription_id = q.id and d.status = 'pending' and d.attempts = 0
              and d.next_attempt_at <= clock_timestamp()
              and not ${heldBack(sql`d`)}
            order by d.tag_event_id
            limit greatest(q.n, 0)
            for update of d skip locked) d
          limit ${p.limit}),
        due as (select id from retries union all select id from fresh limit ${p.limit}),
        leased as (
          update webhook_deliveries w
          set leased_until = clock_timestamp() + ${`${p.leaseMs} milliseconds`}::interval,
              attempts = w.attempts + 1, last_attempt_at = clock_timestamp()
          from due where w.id = due.id
          returning w.id, w.subscription_id, w.attempts, w.created_at, w.tag_event_id)
        select l.id::int as id, l.subscription_id, ${deliveryType("l", "e")} as type, l.attempts, l.created_at, q.url, q.secret, q.rate_per_second, q.max_in_flight,
               l.tag_event_id::int as tag_event_id, e.entity_type, e.entity_id, t.name as tag, e.source,
               e.rule_id, rv.definition->>'name' as rule_name,
               coalesce(e.explanation->>'reason',
                 case when e.rule_id is null then null
                      when e.action = 'added' then 'conditions matched'
                      when e.explanation->>'exitMatched' = 'true' then 'exit conditions matched'
                      else 'conditions no longer matched' end) as reason,
               e.as_of, coalesce(e.occurred_at, l.created_at) as occurred_at
        from leased l
        join quota q on q.id = l.subscription_id
        left join tag_events e on e.id = l.tag_event_id
        left join tags t on t.id = e.tag_id
        left join rule_versions rv on rv.rule_id = e.rule_id and rv.version = e.rule_version
        order by l.id`,
  );
}

/** What one attempt came to. */
export interface AttemptOutcome {
  id: number;
  /** The attempt number it was leased with: a row leased again since (lease expired) is left to its new holder. */
  attempts: number;
  status: "delivered" | "pending" | "failed";
  nextAttemptAt: string | null;
  httpStatus: number | null;
  error: string | null;
}

/** Records attempts' outcomes in one statement and releases their leases. */
export async function recordOutcomes(db: DbOrTx, outcomes: readonly AttemptOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await db.execute(
    sql`update webhook_deliveries w
        set status = v.status, leased_until = null,
            next_attempt_at = coalesce(v.next_attempt_at, w.next_attempt_at),
            last_status = v.http_status, last_error = v.error,
            delivered_at = case when v.status = 'delivered' then clock_timestamp() else w.delivered_at end
        from jsonb_to_recordset(${JSON.stringify(outcomes.map((o) => ({ id: o.id, attempts: o.attempts, status: o.status, next_attempt_at: o.nextAttemptAt, http_status: o.httpStatus, error: o.error })))}::jsonb)
          as v(id bigint, attempts int, status text, next_attempt_at timestamptz, http_status int, error text)
        where w.id = v.id and w.attempts = v.attempts and w.status = 'pending'`,
  );
}

/** Turns a subscription off after its receiver answered 410 Gone. */
export async function disableGone(db: DbOrTx, subscriptionId: number, reason: string): Promise<void> {
  await db.execute(
    sql`update webhook_subscriptions set enabled = false, disabled_reason = ${reason} where id = ${subscriptionId}`,
  );
}

/** A ping of one subscription, leased at once (its first attempt) by its caller, who sends it. */
export async function insertPing(db: DbOrTx, subscriptionId: number, leaseMs: number): Promise<number> {
  const [row] = await rows<{ id: number }>(
    db,
    sql`insert into webhook_deliveries (subscription_id, leased_until, attempts, last_attempt_at)
        values (${subscriptionId}, clock_timestamp() + ${`${leaseMs} milliseconds`}::interval, 1, clock_timestamp())
        returning id::int as id`,
  );
  return row!.id;
}

export interface DeliveryRow {
  id: number;
  subscription_id: number;
  type: string;
  tag_event_id: number | null;
  entity_type: string | null;
  entity_id: string | null;
  tag: string | null;
  status: string;
  attempts: number;
  created_at: string;
  next_attempt_at: string;
  last_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
}

const iso = (c: string) => sql.raw(`to_char(${c} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

/** A subscription's deliveries, newest first, keyset-paged by id. */
export async function selectDeliveries(
  db: DbOrTx,
  p: { subscriptionId: number; status?: string; beforeId?: number; limit: number },
): Promise<DeliveryRow[]> {
  return rows<DeliveryRow>(
    db,
    sql`select d.id::int as id, d.subscription_id, ${deliveryType("d", "e")} as type, d.tag_event_id::int as tag_event_id,
               e.entity_type, e.entity_id,
               t.name as tag, d.status, d.attempts, ${iso("d.created_at")} as created_at,
               ${iso("d.next_attempt_at")} as next_attempt_at, ${iso("d.last_attempt_at")} as last_attempt_at,
               d.last_status, d.last_error, ${iso("d.delivered_at")} as delivered_at
        from webhook_deliveries d
        left join tag_events e on e.id = d.tag_event_id
        left join tags t on t.id = e.tag_id
        where d.subscription_id = ${p.subscriptionId}
          ${p.status ? sql`and d.status = ${p.status}` : sql``}
          ${p.beforeId === undefined ? sql`` : sql`and d.id < ${p.beforeId}`}
        order by d.id desc limit ${p.limit}`,
  );
}

/**
 * Makes deliveries pending again, due now, with fresh retries; their
 * webhook-id stays the same. By id (any status but in flight), or every
 * failed one created at or after `since` (optionally of one subscription).
 */
export async function requeue(
  db: DbOrTx,
  p: { id: number } | { since: Date; subscriptionId?: number },
): Promise<number[]> {
  const where =
    "id" in p
      ? sql`id = ${p.id} and not (status = 'pending' and leased_until > clock_timestamp())`
      : sql`status = 'failed' and created_at >= ${p.since.toISOString()}::timestamptz${
          p.subscriptionId === undefined ? sql`` : sql` and subscription_id = ${p.subscriptionId}`
        }`;
  const out = await rows<{ id: number }>(
    db,
    sql`update webhook_deliveries set status = 'pending', next_attempt_at = clock_timestamp(), leased_until = null,
          created_at = clock_timestamp(), delivered_at = null
        where ${where} returning id::int as id`,
  );
  return out.map((r) => r.id);
}

export interface OutboxFigures {
  subscription_id: number;
  url: string;
  enabled: boolean;
  pending: number;
  oldest_pending_seconds: number | null;
  failed: number;
}

/**
 * Per subscription: pending and failed deliveries, and the age of the oldest
 * pending one. Reads the partial indexes of pending and failed rows, never
 * the delivered ones (which only grow).
 */
export async function outboxFigures(db: DbOrTx): Promise<OutboxFigures[]> {
  return rows<OutboxFigures>(
    db,
    sql`select s.id as subscription_id, s.url, s.enabled,
               coalesce(c.pending, 0)::int as pending, c.oldest_pending_seconds, coalesce(c.failed, 0)::int as failed
        from webhook_subscriptions s
        left join lateral (
          select count(*) filter (where d.status = 'pending') as pending,
                 extract(epoch from clock_timestamp() - min(d.created_at) filter (where d.status = 'pending'))::float8
                   as oldest_pending_seconds,
                 count(*) filter (where d.status = 'failed') as failed
          from webhook_deliveries d where d.subscription_id = s.id and d.status in ('pending', 'failed')) c on true
        order by s.id`,
  );
}

/**
 * Deletes up to `limit` delivered rows delivered more than `keepDeliveredDays`
 * ago and failed ones written (or last replayed) more than `keepFailedDays`
 * ago (0: kept for ever); says how many went. Pending rows are never touched,
 * and a row replayed meanwhile is left (the conditions are checked again on
 * the row deleted). Rows another prune is deleting are skipped.
 */
export async function pruneDeliveries(
  db: DbOrTx,
  p: { keepDeliveredDays: number; keepFailedDays: number; limit: number },
): Promise<number> {
  const delivered = p.keepDeliveredDays > 0 ? `${p.keepDeliveredDays} days` : null;
  const failed = p.keepFailedDays > 0 ? `${p.keepFailedDays} days` : null;
  if (!delivered && !failed) return 0;
  const old = sql`((w.status = 'delivered' and w.delivered_at < clock_timestamp() - ${delivered}::interval)
                or (w.status = 'failed' and w.created_at < clock_timestamp() - ${failed}::interval))`;
  const [row] = await rows<{ n: number }>(
    db,
    sql`with old_delivered as (
          select w.id from webhook_deliveries w
          where w.status = 'delivered' and w.delivered_at < clock_timestamp() - ${delivered}::interval
          order by w.delivered_at limit ${p.limit} for update skip locked),
        old_failed as (
          select w.id from webhook_deliveries w
          where w.status = 'failed' and w.created_at < clock_timestamp() - ${failed}::interval
          limit ${p.limit} for update skip locked),
        doomed as (select id from old_delivered union all select id from old_failed limit ${p.limit}),
        gone as (delete from webhook_deliveries w using doomed d where w.id = d.id and ${old} returning 1)
        select count(*)::int as n from gone`,
  );
  return row!.n;
}
