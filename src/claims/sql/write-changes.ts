import { type SQL, sql } from "drizzle-orm";
import type { EntityType } from "../../facts/catalog.ts";
import { outboxInsert, tagEventReturning } from "../../webhooks/sql/outbox.ts";

/**
 * Every statement that changes a claim writes it, and its tag event, from
 * these builders: rule runs (the compiled one-statement run included, which
 * embeds claimChangeWrites), partitioned runs, entity re-evaluation, and the
 * changes people make (by hand, in bulk, by file, by suppressing). So
 * insertTagEvents is the one place a tag event is written: whatever must
 * happen with every tag event in its transaction (an outbox row for webhooks)
 * is written there (tagEventCtes). Set-based throughout: one statement whatever the count.
 */

/** What a tag event records besides the change itself, as SQL over the change rows (or constants). */
export interface EventFields {
  explanation: SQL;
  /** When the change happened; without it, the transaction's start (the column's default). */
  occurredAt?: SQL;
  /** The person who made it. */
  actor?: SQL;
  /** The rule run that made it. */
  rule?: { id: SQL; version: SQL; runId: SQL; asOf: SQL };
}

interface EventRows {
  type: EntityType;
  /** FROM items (with joins) that list one row per event. */
  from: SQL;
  entityId: SQL;
  tagId: SQL;
  /** 'added' or 'removed'. */
  action: SQL;
  source: SQL;
  /** Whether the entity gained or lost the tag itself, not just one claim on it. */
  membershipChanged: SQL;
  fields: EventFields;
  order: SQL;
}

/**
 * The tag events as two CTEs: `name` inserts them (returning
 * tagEventReturning) and `name_webhooks` writes their webhook deliveries
 * (the outbox) in the same statement, so every path that writes a tag event
 * writes its deliveries with it.
 */
function tagEventCtes(name: string, e: EventRows): SQL {
  return sql`${sql.identifier(name)} as (${insertTagEvents(e)}),
    ${sql.identifier(`${name}_webhooks`)} as (${outboxInsert(name)})`;
}

/** One tag event per row, in the given order. The only statement text that inserts tag events. */
function insertTagEvents(e: EventRows): SQL {
  const f = e.fields;
  const columns = [
    ...(f.occurredAt ? [sql`occurred_at`] : []),
    sql`entity_type, entity_id, tag_id, action, source`,
    ...(f.actor ? [sql`actor`] : []),
    sql`membership_changed`,
    ...(f.rule ? [sql`rule_id, rule_version, run_id, as_of`] : []),
    sql`explanation`,
  ];
  const values = [
    ...(f.occurredAt ? [f.occurredAt] : []),
    sql`${e.type}, ${e.entityId}, ${e.tagId}, ${e.action}, ${e.source}`,
    ...(f.actor ? [f.actor] : []),
    e.membershipChanged,
    ...(f.rule ? [sql`${f.rule.id}, ${f.rule.version}, ${f.rule.runId}, ${f.rule.asOf}`] : []),
    f.explanation,
  ];
  return sql`insert into tag_events (${sql.join(columns, sql`, `)})
      select ${sql.join(values, sql`, `)}
      from ${e.from}
      order by ${e.order} returning ${tagEventReturning}`;
}

interface ClaimRows {
  type: EntityType;
  from: SQL;
  where?: SQL;
  source: SQL;
  tagId: SQL;
  entityId: SQL;
  /** A person's claim: who made it and since when. */
  person?: { actor: SQL; createdAt: SQL };
  order?: SQL;
  /** Leave a claim that exists already as it is (on conflict do nothing). */
  unlessClaimed?: boolean;
  returning?: SQL;
}

/** The only statement text that inserts claims. */
function insertClaims(c: ClaimRows): SQL {
  return sql`insert into claims (source, tag_id, entity_type, entity_id${c.person ? sql`, actor, created_at` : sql``})
      select ${c.source}, ${c.tagId}, ${c.type}, ${c.entityId}${c.person ? sql`, ${c.person.actor}, ${c.person.createdAt}` : sql``}
      from ${c.from}${c.where ? sql` where ${c.where}` : sql``}${c.order ? sql` order by ${c.order}` : sql``}${
        c.unlessClaimed ? sql` on conflict do nothing` : sql``
      }${c.returning ? sql` returning ${c.returning}` : sql``}`;
}

interface ClaimKeys {
  type: EntityType;
  /** USING items that list the claims to delete. */
  using: SQL;
  where?: SQL;
  tagId: SQL;
  entityId: SQL;
  /** Which sources' claims go, as a condition on the claim's source column. */
  source: (column: SQL) => SQL;
  returning?: SQL;
}

/** The only statement text that deletes claims; the claim is `k`. */
function deleteClaims(c: ClaimKeys): SQL {
  return sql`delete from claims k using ${c.using}
      where ${c.where ? sql`${c.where} and ` : sql``}k.tag_id = ${c.tagId} and k.entity_type = ${c.type}
        and k.entity_id = ${c.entityId} and ${c.source(sql`k.source`)}${c.returning ? sql` returning ${c.returning}` : sql``}`;
}

/**
 * Changes already decided, one row per claim to add or remove, with the
 * columns below as SQL over `from`'s alias (or constants). Each row is
 * written as it stands: the writer (a rule, under its lock) knows its own
 * claims, so every row changes one.
 */
export interface DecidedChanges {
  type: EntityType;
  /** The FROM item of the changes with its alias, e.g. sql`diff d`. */
  from: SQL;
  /** 'add' or 'remove'. */
  action: SQL;
  entityId: SQL;
  tagId: SQL;
  source: SQL;
  /**
   * Whether the entity gains or loses the tag itself. Without it: where no
   * other source claims the tag as the statement starts (then `tagId` and
   * `source` must be constants).
   */
  membershipChanged?: SQL;
  event: EventFields;
  /** More FROM items the events read (joined to `from`). */
  eventJoins?: SQL;
  /** Order of the tag events. */
  order: SQL;
  /** Order in which claims are added. */
  addOrder?: SQL;
  /** Leave a claim that exists already as it is, instead of failing on it. */
  unlessClaimed?: boolean;
}

/**
 * The writes of decided changes as CTEs of the caller's statement, named
 * `others` (when membership is computed here), `events`, `added` and `removed`.
 */
export function claimChangeWrites(c: DecidedChanges): SQL {
  const others = c.membershipChanged === undefined;
  const eventsFrom = sql`${c.from}${c.eventJoins ? sql` ${c.eventJoins}` : sql``}${
    others ? sql` left join others o on o.entity_id = ${c.entityId}` : sql``
  }`;
  const events = tagEventCtes("events", {
    type: c.type,
    from: eventsFrom,
    entityId: c.entityId,
    tagId: c.tagId,
    action: sql`case when ${c.action} = 'add' then 'added' else 'removed' end`,
    source: c.source,
    membershipChanged: c.membershipChanged ?? sql`o.entity_id is null`,
    fields: c.event,
    order: c.order,
  });
  const added = insertClaims({
    type: c.type,
    from: c.from,
    where: sql`${c.action} = 'add'`,
    source: c.source,
    tagId: c.tagId,
    entityId: c.entityId,
    order: c.addOrder,
    unlessClaimed: c.unlessClaimed,
  });
  const removed = deleteClaims({
    type: c.type,
    using: c.from,
    where: sql`${c.action} = 'remove'`,
    tagId: c.tagId,
    entityId: c.entityId,
    source: (column) => sql`${column} = ${c.source}`,
  });
  return sql`${
    others
      ? sql`others as (
      select distinct o.entity_id from claims o
      where o.tag_id = ${c.tagId} and o.entity_type = ${c.type} and o.source <> ${c.source}
    ), `
      : sql``
  }${events}, added as (${added}), removed as (${removed})`;
}

/**
 * Adds a claim of `source` for every pair (a query of entity_id, tag_id) that
 * lacks one, and one `added` tag event per claim actually added, as CTEs
 * among which `ev` (returning tagEventReturning). `membership_changed` is true where
 * no other source claimed the tag. The claim's `since` and its event share one
 * timestamp, taken after the caller's row locks, so history orders like the
 * changes did.
 */
export function addClaimsQuery(
  type: EntityType,
  source: string,
  actor: string,
  note: unknown,
  pairs: SQL,
): SQL {
  const ins = insertClaims({
    type,
    from: sql`(${pairs}) p`,
    source: sql`${source}`,
    tagId: sql`p.tag_id`,
    entityId: sql`p.entity_id`,
    person: { actor: sql`${actor}`, createdAt: sql`(select t from now)` },
    unlessClaimed: true,
    returning: sql`entity_id, tag_id, created_at`,
  });
  const ev = tagEventCtes("ev", {
    type,
    from: sql`ins`,
    entityId: sql`ins.entity_id`,
    tagId: sql`ins.tag_id`,
    action: sql`'added'`,
    source: sql`${source}`,
    membershipChanged: sql`not exists (select 1 from claims o
                         where o.tag_id = ins.tag_id and o.entity_type = ${type}
                           and o.entity_id = ins.entity_id and o.source <> ${source})`,
    fields: {
      occurredAt: sql`ins.created_at`,
      actor: sql`${actor}`,
      explanation: sql`${JSON.stringify(note)}::jsonb`,
    },
    order: sql`ins.entity_id, ins.tag_id`,
  });
  return sql`
    with now as (select clock_timestamp() as t),
    ins as (${ins}),
    ${ev}`;
}

/**
 * Removes every claim (of the sources `sourceFilter` admits) on each pair,
 * with one `removed` tag event per claim actually removed, as CTEs among which
 * `ev` (returning tagEventReturning). When all of an entity's claims on the tag
 * go, the last event of the group carries `membership_changed`.
 */
export function removeClaimsQuery(
  type: EntityType,
  actor: string,
  note: unknown,
  pairs: SQL,
  sourceFilter: (source: SQL) => SQL,
): SQL {
  const del = deleteClaims({
    type,
    using: sql`(select distinct entity_id, tag_id from (${pairs}) q) p`,
    tagId: sql`p.tag_id`,
    entityId: sql`p.entity_id`,
    source: sourceFilter,
    returning: sql`k.entity_id, k.tag_id, k.source`,
  });
  const ev = tagEventCtes("ev", {
    type,
    from: sql`ranked r`,
    entityId: sql`r.entity_id`,
    tagId: sql`r.tag_id`,
    action: sql`'removed'`,
    source: sql`r.source`,
    membershipChanged: sql`r.lost`,
    fields: {
      occurredAt: sql`(select t from now)`,
      actor: sql`${actor}`,
      explanation: sql`${JSON.stringify(note)}::jsonb`,
    },
    order: sql`r.entity_id, r.tag_id, r.source collate "C"`,
  });
  return sql`
    with now as (select clock_timestamp() as t),
    del as (${del}),
    ranked as (
      select d.entity_id, d.tag_id, d.source,
             row_number() over (partition by d.entity_id, d.tag_id order by d.source collate "C" desc) = 1
               and not exists (select 1 from claims o
                               where o.tag_id = d.tag_id and o.entity_type = ${type} and o.entity_id = d.entity_id
                                 and not (${sourceFilter(sql`o.source`)})) as lost
      from del d),
    ${ev}`;
}
