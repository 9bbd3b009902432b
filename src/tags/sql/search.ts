import { type SQL, sql } from "drizzle-orm";
import type { DbOrTx } from "../../db/client.ts";
import { preparedRows as rows } from "../../db/prepared.ts";

export interface SearchHit {
  type: "account" | "user";
  id: string;
  name: string | null;
  email: string | null;
  accountId: string | null;
}

/** The largest code point: a prefix followed by it sorts after every string that starts with the prefix. */
const TOP = String.fromCodePoint(0x10ffff);

/**
 * A prefix match on one column as an index range: `~>=~` and `~<~` compare
 * byte-wise like the text_pattern_ops indexes of migration console_search, so
 * the range uses them under any plan (a LIKE with a bound pattern does not
 * under a generic plan), and the LIKE keeps the answer exact.
 */
function prefixOf(column: SQL, prefix: string): SQL {
  const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql`${column} ~>=~ ${prefix} and ${column} ~<~ ${prefix + TOP} and ${column} like ${like}`;
}

/**
 * Accounts and users whose id starts with `raw`, or whose name or email
 * starts with it case-insensitively; each branch reads at most `limit` index
 * entries, so the cost does not grow with the workspace.
 */
export async function searchEntities(db: DbOrTx, raw: string, limit: number): Promise<SearchHit[]> {
  const lower = raw.toLowerCase();
  const user = sql`select 'user' as type, id, name, email, account_id as "accountId" from users`;
  const account = sql`select 'account' as type, id, name, null::text as email, null::text as "accountId" from accounts`;
  // Ordered byte-wise (the indexes' order): the scan stops after `limit` entries. In the
  // collation's order Postgres would read and sort every match of a one-letter prefix.
  const branch = (select: SQL, where: SQL, order: SQL, rank: number) =>
    sql`(select ${rank}::int as rank, * from (${select} where ${where} order by ${order} using ~<~ limit ${limit}) b)`;
  return rows<SearchHit>(
    db,
    sql`select distinct on (type, id) type, id, name, email, "accountId", rank from (
          ${branch(account, prefixOf(sql`id`, raw), sql`id`, 0)}
          union all ${branch(user, prefixOf(sql`id`, raw), sql`id`, 1)}
          union all ${branch(user, prefixOf(sql`lower(email)`, lower), sql`lower(email)`, 2)}
          union all ${branch(account, prefixOf(sql`lower(name)`, lower), sql`lower(name)`, 3)}
          union all ${branch(user, prefixOf(sql`lower(name)`, lower), sql`lower(name)`, 4)}
        ) hits order by type, id, rank`,
  );
}

/** Tag names starting with `prefix` in any case, in name order. */
export async function tagNamesStarting(db: DbOrTx, prefix: string, limit: number): Promise<string[]> {
  const found = await rows<{ name: string }>(
    db,
    sql`select name from tags where ${prefixOf(sql`lower(name)`, prefix.toLowerCase())}
        order by lower(name) using ~<~ limit ${limit}`,
  );
  return found.map((r) => r.name);
}
