import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/**
 * The lock between commits that park messages for users or accounts not known
 * yet and commits that make them known (and release what waits for them).
 * Commits run side by side; were a commit to create a user while another
 * parks a track for it, neither would see the other's row and the track
 * would wait for the next sweep. So a commit that may create users or
 * accounts (or sweeps) holds it exclusively, every other commit shared:
 * creators wait for parkers and parkers for creators, and what one parks the
 * next one's statements see.
 */
const WAITING_LOCK = sql`hashtextextended('signaltag:ingest-waiting', 0)`;

export async function lockWaiting(tx: DbOrTx, mode: "shared" | "exclusive"): Promise<void> {
  await tx.execute(
    mode === "shared"
      ? sql`select pg_advisory_xact_lock_shared(${WAITING_LOCK})`
      : sql`select pg_advisory_xact_lock(${WAITING_LOCK})`,
  );
}

/** Whether every one of these users and accounts exists (then a commit naming only them creates none). */
export async function allKnown(
  tx: DbOrTx,
  userIds: readonly string[],
  accountIds: readonly string[],
): Promise<boolean> {
  const [r] = await rows<{ missing: boolean }>(
    tx,
    sql`select exists (
          select 1 from jsonb_array_elements_text(${JSON.stringify(userIds)}::jsonb) i(id)
          where not exists (select 1 from users u where u.id = i.id)
          union all
          select 1 from jsonb_array_elements_text(${JSON.stringify(accountIds)}::jsonb) i(id)
          where not exists (select 1 from accounts a where a.id = i.id)) as missing`,
  );
  return r?.missing === false;
}

/** A waiting identify or membership (ingest_waiting), as taken out to be applied. */
export interface WaitingEntityRow {
  id: number;
  kind: "identify" | "member";
  user_id: string | null;
  account_id: string | null;
  message: Record<string, unknown>;
  received_at: string;
}

/**
 * Takes out (deletes, in the caller's transaction) the waiting identifies and
 * memberships of these users, or naming these accounts, oldest first; what
 * still cannot be applied is parked again in the same transaction.
 */
export async function takeWaitingEntities(
  tx: DbOrTx,
  userIds: readonly string[],
  accountIds: readonly string[],
): Promise<WaitingEntityRow[]> {
  if (userIds.length === 0 && accountIds.length === 0) return [];
  return rows<WaitingEntityRow>(
    tx,
    sql`with taken as (
          delete from ingest_waiting w
          where w.kind <> 'track'
            and (w.user_id in (select jsonb_array_elements_text(${JSON.stringify(userIds)}::jsonb))
              or w.account_id in (select jsonb_array_elements_text(${JSON.stringify(accountIds)}::jsonb)))
          returning w.id, w.kind, w.user_id, w.account_id, w.message,
                    to_char(w.received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as received_at)
        select * from taken order by id`,
  );
}

/** Parks identifies and memberships whose user or account is not known yet. */
export async function parkEntities(
  tx: DbOrTx,
  parked: readonly {
    kind: "identify" | "member";
    user_id: string;
    account_id: string | null;
    message: Record<string, unknown>;
    received_at: string;
  }[],
): Promise<void> {
  if (parked.length === 0) return;
  await tx.execute(
    sql`insert into ingest_waiting (kind, user_id, account_id, message, received_at)
        select kind, user_id, account_id, message, received_at
        from jsonb_to_recordset(${JSON.stringify(parked)}::jsonb) as p(
          kind text, user_id text, account_id text, message jsonb, received_at timestamptz)`,
  );
}

export type WaitingKind = "track" | "identify" | "member";

export interface WaitingSummary {
  /** Messages waiting for their user or account: events, identifies, memberships. */
  events: number;
  identifies: number;
  memberships: number;
  /** Seconds the oldest has waited; null when none waits. */
  oldestSeconds: number | null;
  /** Messages deleted after waiting past the retention, ever, by kind. */
  expired: Record<WaitingKind, number>;
  /** When messages last expired (ISO-8601); null when none ever did. */
  lastExpiredAt: string | null;
}

export async function waitingSummary(db: DbOrTx): Promise<WaitingSummary> {
  const [r] = await rows<{
    events: number;
    identifies: number;
    memberships: number;
    oldest: number | null;
    expired: Partial<Record<WaitingKind, number>>;
    last_expired_at: string | null;
  }>(
    db,
    sql`select count(*) filter (where kind = 'track')::int as events,
               count(*) filter (where kind = 'identify')::int as identifies,
               count(*) filter (where kind = 'member')::int as memberships,
               extract(epoch from now() - min(received_at))::float8 as oldest,
               (select coalesce(jsonb_object_agg(kind, messages), '{}'::jsonb) from ingest_expired) as expired,
               (select to_char(max(last_expired_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                from ingest_expired) as last_expired_at
        from ingest_waiting`,
  );
  const expired = r?.expired ?? {};
  return {
    events: Number(r?.events ?? 0),
    identifies: Number(r?.identifies ?? 0),
    memberships: Number(r?.memberships ?? 0),
    oldestSeconds: r?.oldest === null || r?.oldest === undefined ? null : Number(r.oldest),
    expired: {
      track: Number(expired.track ?? 0),
      identify: Number(expired.identify ?? 0),
      member: Number(expired.member ?? 0),
    },
    lastExpiredAt: r?.last_expired_at ?? null,
  };
}

/**
 * Deletes at most `limit` messages received before `before`, oldest first,
 * and adds them to ingest_expired; returns how many of each kind. Rows a
 * commit holds locked (it is applying them) are skipped, not waited for:
 * the sweep never blocks ingestion, and a message is applied or expired,
 * never both.
 */
export async function expireWaiting(
  db: DbOrTx,
  before: Date,
  limit: number,
): Promise<Record<WaitingKind, number>> {
  const found = await rows<{ kind: WaitingKind; n: number }>(
    db,
    sql`with gone as (
          delete from ingest_waiting w
          where w.id in (select id from ingest_waiting where received_at < ${before.toISOString()}::timestamptz
                         order by received_at limit ${limit} for update skip locked)
          returning w.kind),
        counted as (select kind, count(*)::int as n from gone group by kind),
        saved as (
          -- In kind order, so two processes expiring at once lock these rows in the same order.
          insert into ingest_expired as e (kind, messages, last_expired_at)
          select kind, n, now() from counted order by kind
          on conflict (kind) do update
            set messages = e.messages + excluded.messages, last_expired_at = excluded.last_expired_at
          returning 1)
        select kind, n from counted`,
  );
  const out: Record<WaitingKind, number> = { track: 0, identify: 0, member: 0 };
  for (const f of found) out[f.kind] = Number(f.n);
  return out;
}

/**
 * Users and accounts that messages wait for and that exist now (at most
 * `limit` of each): known through another door than this API, such as a
 * file import, so no message of their own released what waited for them.
 */
export async function knownButWaiting(
  tx: DbOrTx,
  limit: number,
): Promise<{ users: string[]; accounts: string[] }> {
  const found = await rows<{ kind: string; id: string }>(
    tx,
    sql`(select distinct 'user' as kind, w.user_id as id from ingest_waiting w
         where w.user_id is not null and exists (select 1 from users u where u.id = w.user_id)
           -- A membership naming an account still unknown would only wait again; an identify's
           -- fields apply to a known user at once (its account move then waits as a membership).
           and (w.kind <> 'member' or exists (select 1 from accounts a where a.id = w.account_id))
         limit ${limit})
        union all
        (select distinct 'account', w.account_id from ingest_waiting w
         where w.account_id is not null and (w.user_id is null or w.kind = 'identify')
           and exists (select 1 from accounts a where a.id = w.account_id) limit ${limit})`,
  );
  return {
    users: found.filter((r) => r.kind === "user").map((r) => r.id),
    accounts: found.filter((r) => r.kind === "account").map((r) => r.id),
  };
}
