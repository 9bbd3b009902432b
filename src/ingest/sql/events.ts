import { type SQL, sql } from "drizzle-orm";
import type { TrackEvent } from "../types.ts";

/*
 * The statement that stores tracked events, as fragments for the rollups'
 * writer (imports/rollups.ts addEventRollups), which puts its merge of the
 * inserted events' rollups between them: `with <before>, <merge> <select>`.
 */

/** The events the statement inserted, for the rollups' merge. */
export const INSERTED_EVENTS = sql`ing_inserted`;

/**
 * Common table expressions that take this commit's events and the waiting
 * ones released by it (those of `users` now known, and account-level ones
 * of `accounts`), store the events whose user (or, for account-level events,
 * account) is known, and park the rest. A known user's event counts for the
 * user's own account, as the rollups require. A messageId already stored
 * or already waiting is not stored again. Events go in messageId order, so
 * two commits holding the same messageIds (a client's retry) wait for each
 * other on the unique index instead of deadlocking.
 */
export function storeEvents(
  events: readonly TrackEvent[],
  users: readonly string[],
  accounts: readonly string[],
): SQL {
  const input = events.map((e) => ({
    event_id: e.eventId,
    user_id: e.userId,
    account_id: e.accountId,
    activity: e.activity,
    module: e.module,
    occurred_at: e.occurredAt,
    count: e.count,
    received_at: e.receivedAt,
  }));
  return sql`ing_src as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb) as s(
        event_id text, user_id text, account_id text, activity text, module text, occurred_at timestamptz,
        count integer, received_at timestamptz)),
    ing_released as (
      delete from ingest_waiting w
      where w.kind = 'track'
        and (w.user_id in (select jsonb_array_elements_text(${JSON.stringify(users)}::jsonb))
          or (w.user_id is null
              and w.account_id in (select jsonb_array_elements_text(${JSON.stringify(accounts)}::jsonb))))
      returning w.event_id, w.user_id, w.account_id, w.message->>'activity' as activity,
        w.message->>'module' as module, (w.message->>'occurred_at')::timestamptz as occurred_at,
        (w.message->>'count')::integer as count, w.received_at),
    ing_all as (select * from ing_src union all select * from ing_released),
    ing_resolved as (
      select c.event_id, c.user_id, coalesce(u.account_id, c.account_id) as account_id, c.activity, c.module,
             c.occurred_at, c.count, c.received_at,
             (u.id is not null
               or (c.user_id is null and exists (select 1 from accounts a where a.id = c.account_id))) as ready
      from ing_all c left join users u on u.id = c.user_id),
    ing_parked as (
      insert into ingest_waiting (kind, user_id, account_id, event_id, message, received_at)
      select 'track', r.user_id, r.account_id, r.event_id,
             jsonb_build_object('activity', r.activity, 'module', r.module, 'occurred_at', r.occurred_at,
                                'count', r.count),
             r.received_at
      from ing_resolved r
      where not r.ready
        and (r.event_id is null
          or not exists (select 1 from activity_events e where e.event_id = r.event_id))
      order by r.event_id
      on conflict (event_id) where event_id is not null do nothing
      returning 1),
    ${INSERTED_EVENTS} as (
      insert into activity_events (event_id, user_id, account_id, activity, module, occurred_at, count, received_at)
      select event_id, user_id, account_id, activity, module, occurred_at, count, received_at
      from ing_resolved where ready
      order by event_id
      on conflict (event_id) where event_id is not null do nothing
      returning user_id, account_id, activity, module, occurred_at, count)`;
}

/** The row storeEvents()'s statement answers with: counts, and the entities its events touched. */
export interface StoredEvents {
  stored: number;
  ready: number;
  parked: number;
  released: number;
  users: string[];
  accounts: string[];
}

export const STORED_EVENTS = sql`select
    (select count(*) from ${INSERTED_EVENTS})::int as stored,
    (select count(*) from ing_resolved where ready)::int as ready,
    (select count(*) from ing_parked)::int as parked,
    (select count(*) from ing_released)::int as released,
    (select coalesce(jsonb_agg(distinct user_id), '[]'::jsonb) from ${INSERTED_EVENTS} where user_id is not null) as users,
    (select coalesce(jsonb_agg(distinct account_id), '[]'::jsonb) from ${INSERTED_EVENTS}) as accounts`;
