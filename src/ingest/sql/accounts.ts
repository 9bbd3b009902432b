import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";

/** One account's fields as upsertAccounts() takes them: null keeps what is stored. */
export interface AccountRow {
  id: string;
  name: string | null;
  provisioned_at: string | null;
  contract_status: string | null;
  renewal_date: string | null;
  health_score: number | null;
  health: string | null;
  attributes: Record<string, unknown>;
  seen_at: string;
}

/**
 * Inserts or updates accounts (one row per id) in one statement. A new
 * account without provisioned_at was provisioned when first seen; a known
 * one keeps every field the message leaves out, and adds its attributes to
 * the stored ones. A row that would not change is not written, so a message
 * sent again logs no change. Rows go in id order, so two commits upserting
 * the same accounts lock them in the same order. Returns the ids written.
 */
export async function upsertAccounts(tx: DbOrTx, accounts: readonly AccountRow[]): Promise<string[]> {
  const written = await rows<{ id: string }>(
    tx,
    sql`with src as (
          select * from jsonb_to_recordset(${JSON.stringify(accounts)}::jsonb) as s(
            id text, name text, provisioned_at timestamptz, contract_status text, renewal_date date,
            health_score double precision, health text, attributes jsonb, seen_at timestamptz))
        insert into accounts as t (id, name, provisioned_at, contract_status, renewal_date, health_score, health, attributes)
        select id, name, coalesce(provisioned_at, seen_at), contract_status, renewal_date, health_score, health,
               coalesce(attributes, '{}'::jsonb)
        from src
        order by id
        on conflict (id) do update set
          name = coalesce(excluded.name, t.name),
          provisioned_at = coalesce((select s.provisioned_at from src s where s.id = excluded.id), t.provisioned_at),
          contract_status = coalesce(excluded.contract_status, t.contract_status),
          renewal_date = coalesce(excluded.renewal_date, t.renewal_date),
          health_score = coalesce(excluded.health_score, t.health_score),
          health = coalesce(excluded.health, t.health),
          attributes = t.attributes || excluded.attributes,
          updated_at = now()
        where (t.name, t.contract_status, t.renewal_date, t.health_score, t.health, t.attributes, t.provisioned_at)
          is distinct from (coalesce(excluded.name, t.name), coalesce(excluded.contract_status, t.contract_status),
            coalesce(excluded.renewal_date, t.renewal_date), coalesce(excluded.health_score, t.health_score),
            coalesce(excluded.health, t.health), t.attributes || excluded.attributes,
            coalesce((select s.provisioned_at from src s where s.id = excluded.id), t.provisioned_at))
        returning t.id`,
  );
  return written.map((r) => r.id);
}
