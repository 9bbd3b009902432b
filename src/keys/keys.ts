import { createHash, randomBytes } from "node:crypto";
import type { DbOrTx } from "../db/client.ts";
import { ConflictError, InputError, NotFoundError } from "../errors/index.ts";
import {
  type ApiKeyRole,
  type ApiKeyRow,
  apiKeyByHash,
  findApiKeys,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  touchApiKey,
} from "./sql/api-keys.ts";

export type { ApiKeyRole, ApiKeyRow };
export const apiKeyRoles: readonly ApiKeyRole[] = ["viewer", "editor", "admin", "ingest"];
/** The roles that manage tags, each allowed what the ones before it are. */
const hierarchy: readonly ApiKeyRole[] = ["viewer", "editor", "admin"];

const KEY_PREFIX = "stk_";
const SHOWN_PREFIX = 12;

/**
 * Whether a role may do what `needed` allows: admin > editor > viewer. An
 * ingest key sits outside that order with least privilege: it may only send
 * usage (a key pasted into a product's tracking code must not read or change
 * tags); admin may send usage too.
 */
export function roleAllows(role: ApiKeyRole, needed: ApiKeyRole): boolean {
  if (needed === "ingest") return role === "ingest" || role === "admin";
  if (role === "ingest") return false;
  return hierarchy.indexOf(role) >= hierarchy.indexOf(needed);
}

function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function parseRole(value: string): ApiKeyRole {
  if ((apiKeyRoles as readonly string[]).includes(value)) return value as ApiKeyRole;
  throw new InputError(`--role must be viewer, editor, admin or ingest, not ${JSON.stringify(value)}`, {
    details: { field: "role" },
  });
}

/** Creates a key and returns it: the only time the key itself exists outside the caller. */
export async function createApiKey(
  db: DbOrTx,
  p: { name: string; role: ApiKeyRole },
): Promise<{ key: string; row: ApiKeyRow }> {
  const name = p.name.trim();
  if (name === "" || name.length > 100) {
    throw new InputError(
      "a key's name must be 1 to 100 characters (it is recorded as the actor of its changes)",
      {
        details: { field: "name" },
      },
    );
  }
  const key = KEY_PREFIX + randomBytes(32).toString("base64url");
  const row = await insertApiKey(db, {
    name,
    role: p.role,
    keyHash: hashKey(key),
    prefix: key.slice(0, SHOWN_PREFIX),
  });
  if (!row) {
    throw new ConflictError(
      `an active key named ${JSON.stringify(name)} exists; revoke it first or choose another name`,
      {
        code: "key_name_taken",
      },
    );
  }
  return { key, row };
}

export async function listKeys(db: DbOrTx): Promise<ApiKeyRow[]> {
  return listApiKeys(db);
}

/** Revokes the active key with this name, or the key with this id. */
export async function revokeKey(db: DbOrTx, nameOrId: string): Promise<ApiKeyRow> {
  const found = await findApiKeys(db, nameOrId);
  if (found.length === 0)
    throw new NotFoundError(`no active key named ${JSON.stringify(nameOrId)} and no key with that id`);
  if (found.length > 1) {
    throw new InputError(
      `${JSON.stringify(nameOrId)} is both a key's name and another key's id; revoke by id: ${found.map((k) => `${k.id} (${k.name})`).join(", ")}`,
    );
  }
  const key = found[0]!;
  const revoked = await revokeApiKey(db, key.id);
  if (!revoked)
    throw new ConflictError(`key ${key.id} (${key.name}) was already revoked at ${key.revokedAt}`, {
      code: "key_revoked",
    });
  return revoked;
}

/**
 * Resolves a presented key to its active record, or undefined. `last_used_at`
 * is refreshed at most once a minute per key, so authentication stays one
 * indexed read per request.
 */
export class KeyAuthenticator {
  private readonly touched = new Map<number, number>();

  constructor(private readonly db: DbOrTx) {}

  async authenticate(key: string): Promise<ApiKeyRow | undefined> {
    if (!key.startsWith(KEY_PREFIX)) return undefined;
    const row = await apiKeyByHash(this.db, hashKey(key));
    if (!row) return undefined;
    const now = Date.now();
    if ((this.touched.get(row.id) ?? 0) < now - 60_000) {
      this.touched.set(row.id, now);
      await touchApiKey(this.db, row.id);
    }
    return row;
  }
}
