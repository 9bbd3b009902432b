import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/** One user's fields as upsertUsers() takes them: null keeps what is stored. */
export interface UserRow {
  id: string;
  /** The account named by the messages; null: the user's stored one. */
  account_id: string | null;
  email: string | null;
  name: string | null;
  created_at: string | null;
  attributes: Record<string, unknown>;
  seen_at: string;
  /** Only a group named this user: the user is moved to the account if known, never created. */
  member_only: boolean;
}

/** What became of one user's row in upsertUsers(). */
export interface UserOutcome {
  id: string;
  resolved: boolean;
  written: boolean;
  accountWaits: boolean;
}

/**
 * Inserts or updates users (one row per id) in one statement; a new user
 * without created_at was created when first seen. A row that would not
 * change is not written. A new user needs a known account; a known user
 * named into an account not known yet gets its other fields now and keeps
 * its stored account (the move waits for the account). Returns each user's
 * outcome: resolved (the user exists now, with this row's fields), written
 * (its row changed) and accountWaits (resolved, but the account it names is
 * not known yet). Rows go in id order, so two commits upserting the same
 * users lock them in the same order.
 */
export async function upsertUsers(tx: DbOrTx, users: readonly UserRow[]): Promise<UserOutcome[]> {
  return rows(
    tx,
    sql`with src as (
          select * from jsonb_to_recordset(${JSON.stringify(users)}::jsonb) as s(
            id text, account_id text, email text, name text, created_at timestamptz, attributes jsonb,
            seen_at timestamptz, member_only boolean)),
        named as (
          select s.*, exists (select 1 from accounts a where a.id = s.account_id) as named_known from src s),
        r as (
          select n.*, case when n.named_known then n.account_id else u.account_id end as acct,
                 u.id is not null as known, n.account_id is not null and not n.named_known as account_waits
          from named n left join users u on u.id = n.id),
        ok as (
          select r.* from r
          where (not r.member_only or r.known) and exists (select 1 from accounts a where a.id = r.acct)),
        up as (
          insert into users as t (id, account_id, email, name, created_at, attributes)
          select id, acct, email, name, coalesce(created_at, seen_at), coalesce(attributes, '{}'::jsonb) from ok
          order by id
          on conflict (id) do update set
            account_id = excluded.account_id,
            email = coalesce(excluded.email, t.email),
            name = coalesce(excluded.name, t.name),
            created_at = coalesce((select s.created_at from src s where s.id = excluded.id), t.created_at),
            attributes = t.attributes || excluded.attributes,
            updated_at = now()
          where (t.account_id, t.email, t.name, t.attributes, t.created_at)
            is distinct from (excluded.account_id, coalesce(excluded.email, t.email), coalesce(excluded.name, t.name),
              t.attributes || excluded.attributes,
              coalesce((select s.created_at from src s where s.id = excluded.id), t.created_at))
          returning t.id)
        select r.id, exists (select 1 from ok where ok.id = r.id) as resolved,
               exists (select 1 from up where up.id = r.id) as written,
               r.account_waits as "accountWaits"
        from r`,
  );
}
