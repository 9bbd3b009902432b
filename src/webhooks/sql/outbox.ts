import { type SQL, sql } from "drizzle-orm";

/**
 * What the outbox reads of each tag event just inserted: the RETURNING list
 * the tag event writer gives its insert (a superset of what its callers read).
 */
export const tagEventReturning = sql`id, entity_type, entity_id, tag_id, action, source, membership_changed`;

/**
 * The outbox write, as the statement of a CTE beside the tag events' insert
 * (`events` names that CTE, returning tagEventReturning): one delivery row per
 * (enabled subscription, tag event) that matches the subscription's events
 * and filters. Only events where the entity gained or lost the tag itself are
 * sent: a second claim on a tag the entity already has changes nothing a
 * subscriber sees. Set-based: one statement whatever the number of events,
 * so deliveries commit or roll back with the tag events they describe.
 * A row holds the subscription and the tag event only (the rest is read from
 * the tag event when sent), in tag-event order: what a flood adds to its run
 * is one narrow row and three index entries, each appended at its index's end.
 */
export function outboxInsert(events: string): SQL {
  const e = sql.identifier(events);
  return sql`insert into webhook_deliveries (subscription_id, tag_event_id)
    select s.id, e.id
    from ${e} e
    join (
      -- Each enabled subscription once, its tag names resolved to ids here (offset 0 keeps this apart):
      -- a lookup per event priced a large change's statement high enough for JIT's optimizer, whose
      -- compiling cost more than the join itself (rule runs turn JIT off; bulk and file changes do not).
      select s.id, s.events, s.entity_type, s.sources, s.tags is null as any_tag,
             (select array_agg(t.id) from tags t where lower(t.name) = any(s.tags)) as tag_ids
      from webhook_subscriptions s where s.enabled offset 0) s
      on ('tag.' || e.action) = any(s.events)
     and (s.entity_type is null or s.entity_type = e.entity_type)
     and (s.sources is null or split_part(e.source, ':', 1) = any(s.sources) or e.source = any(s.sources))
     and (s.any_tag or e.tag_id = any(s.tag_ids))
    where e.membership_changed`;
}
