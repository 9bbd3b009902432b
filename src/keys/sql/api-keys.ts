import { sql } from "drizzle-orm";
import { type DbOrTx, rows } from "../../db/client.ts";
import { preparedRows } from "../../db/prepared.ts";

export type ApiKeyRole = "viewer" | "editor" | "admin" | "ingest";

export interface ApiKeyRow {
  id: number;
  name: string;
  role: ApiKeyRole;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const iso = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
const columns = sql`id, name, role, prefix, ${iso("created_at")} as "createdAt", ${iso("last_used_at")} as "lastUsedAt",
                    ${iso("revoked_at")} as "revokedAt"`;

export async function insertApiKey(
  db: DbOrTx,
  p: { name: string; role: ApiKeyRole; keyHash: string; prefix: string },
): Promise<ApiKeyRow | undefined> {
  const [row] = await rows<ApiKeyRow>(
    db,
    sql`insert into api_keys (name, role, key_hash, prefix) values (${p.name}, ${p.role}, ${p.keyHash}, ${p.prefix})
        on conflict do nothing
        returning ${columns}`,
  );
  return row;
}

export async function listApiKeys(db: DbOrTx): Promise<ApiKeyRow[]> {
  return rows<ApiKeyRow>(db, sql`select ${columns} from api_keys order by id`);
}

/** The active key with this hash. */
export async function apiKeyByHash(db: DbOrTx, keyHash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await preparedRows<ApiKeyRow>(
    db,
    sql`select ${columns} from api_keys where key_hash = ${keyHash} and revoked_at is null`,
  );
  return row;
}

/** Keys a `revoke` argument may mean: the active key of that name, or the key with that id. */
export async function findApiKeys(db: DbOrTx, nameOrId: string): Promise<ApiKeyRow[]> {
  const id = /^\d{1,9}$/.test(nameOrId) ? Number(nameOrId) : -1;
  return rows<ApiKeyRow>(
    db,
    sql`select ${columns} from api_keys
        where (lower(name) = lower(${nameOrId}) and revoked_at is null) or id = ${id}
        order by id`,
  );
}

export async function revokeApiKey(db: DbOrTx, id: number): Promise<ApiKeyRow | undefined> {
  const [row] = await rows<ApiKeyRow>(
    db,
    sql`update api_keys set revoked_at = now() where id = ${id} and revoked_at is null returning ${columns}`,
  );
  return row;
}

export async function touchApiKey(db: DbOrTx, id: number): Promise<void> {
  await db.execute(sql`update api_keys set last_used_at = now() where id = ${id}`);
}
