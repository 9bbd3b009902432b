import { sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client.ts";
import { preparedRows as rows } from "../../db/prepared.ts";

const iso = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

export interface AccountFields {
  id: string;
  name: string | null;
  provisionedAt: string;
  contractStatus: string | null;
  renewalDate: string | null;
  healthScore: number | null;
  health: string | null;
  attributes: Record<string, unknown>;
  updatedAt: string;
}

export interface UserFields {
  id: string;
  accountId: string;
  email: string | null;
  name: string | null;
  createdAt: string;
  attributes: Record<string, unknown>;
  updatedAt: string;
}

export async function accountFields(db: DbOrTx, id: string): Promise<AccountFields | undefined> {
  const [row] = await rows<AccountFields>(
    db,
    sql`select id, name, ${iso("provisioned_at")} as "provisionedAt", contract_status as "contractStatus",
          renewal_date::text as "renewalDate", health_score::float8 as "healthScore", health, attributes,
          ${iso("updated_at")} as "updatedAt"
        from accounts where id = ${id}`,
  );
  return row;
}

export async function userFields(db: DbOrTx, id: string): Promise<UserFields | undefined> {
  const [row] = await rows<UserFields>(
    db,
    sql`select id, account_id as "accountId", email, name, ${iso("created_at")} as "createdAt", attributes,
          ${iso("updated_at")} as "updatedAt"
        from users where id = ${id}`,
  );
  return row;
}

export interface AccountUser {
  id: string;
  email: string | null;
  name: string | null;
  createdAt: string;
  tags: string[];
}

/** An account's users by id after a key, each with the names of its tags. */
export async function accountUsers(
  db: DbOrTx,
  p: { accountId: string; after?: string; limit: number },
): Promise<AccountUser[]> {
  return rows<AccountUser>(
    db,
    sql`select u.id, u.email, u.name, ${iso("u.created_at")} as "createdAt",
          coalesce((select array_agg(distinct t.name) from claims c join tags t on t.id = c.tag_id
                    where c.entity_type = 'user' and c.entity_id = u.id), '{}') as tags
        from users u
        where u.account_id = ${p.accountId} ${p.after === undefined ? sql`` : sql`and u.id > ${p.after}`}
        order by u.id
        limit ${p.limit}`,
  );
}

export async function accountUserCount(db: DbOrTx, accountId: string): Promise<number> {
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from users where account_id = ${accountId}`,
  );
  return row?.n ?? 0;
}

export interface RuleClaimEvent {
  tag: string;
  source: string;
  rule_id: string | null;
  rule_version: string | null;
  as_of: string | null;
  explanation: Record<string, unknown> | null;
}

/** For each rule claim the entity holds: the tag event that added it (the latest), with its explanation. */
export async function ruleClaimEvents(db: DbOrTx, type: string, id: string): Promise<RuleClaimEvent[]> {
  return rows<RuleClaimEvent>(
    db,
    sql`select distinct on (e.tag_id, e.source) t.name as tag, e.source, e.rule_id, e.rule_version,
               ${iso("e.as_of")} as as_of, e.explanation
        from claims c
        join tag_events e on e.entity_type = c.entity_type and e.entity_id = c.entity_id
          and e.tag_id = c.tag_id and e.source = c.source and e.action = 'added'
        join tags t on t.id = c.tag_id
        where c.entity_type = ${type} and c.entity_id = ${id} and c.source like 'rule:%'
        order by e.tag_id, e.source, e.id desc`,
  );
}
