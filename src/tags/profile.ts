import { type EntityTag, entityTags } from "../claims/entity-tags.ts";
import type { DbOrTx } from "../db/client.ts";
import type { EntityType } from "../facts/catalog.ts";
import { decodeCursor, encodeCursor, isString } from "./cursor.ts";
import { entityNotFound } from "./manual.ts";
import {
  type AccountFields,
  type AccountUser,
  accountFields,
  accountUserCount,
  accountUsers,
  type UserFields,
  userFields,
} from "./sql/profiles.ts";
import { type Suppression, suppressionsOf } from "./suppress.ts";

/** How many of an account's users its profile lists; the rest are a page away. */
export const PROFILE_USERS = 100;

export interface UsersPage {
  users: (Omit<AccountUser, "tags"> & { tags: string[] })[];
  nextCursor: string | null;
}

export interface AccountProfile extends AccountFields {
  type: "account";
  tags: EntityTag[];
  /** Suppressions in force: rules that may not claim a tag here. */
  suppressions: Suppression[];
  userCount: number;
  users: UsersPage["users"];
  usersNextCursor: string | null;
}

export interface UserProfile extends UserFields {
  type: "user";
  account: Omit<AccountFields, "attributes" | "updatedAt"> & { tags: string[] };
  tags: EntityTag[];
  suppressions: Suppression[];
}

const sortNames = (names: string[]) => [...names].sort((a, b) => a.localeCompare(b));

export async function usersOfAccount(
  db: DbOrTx,
  p: { accountId: string; cursor?: string; limit?: number },
): Promise<UsersPage> {
  const limit = p.limit ?? PROFILE_USERS;
  const after = p.cursor === undefined ? undefined : decodeCursor(p.cursor, isString);
  const found = await accountUsers(db, { accountId: p.accountId, after, limit: limit + 1 });
  const page = found.slice(0, limit).map((u) => ({ ...u, tags: sortNames(u.tags) }));
  return {
    users: page,
    nextCursor: found.length > limit ? encodeCursor(page[page.length - 1]!.id) : null,
  };
}

export async function accountProfile(db: DbOrTx, id: string, now = new Date()): Promise<AccountProfile> {
  const fields = await accountFields(db, id);
  if (!fields) throw entityNotFound("account", id);
  const [tags, suppressions, userCount, users] = await Promise.all([
    entityTags(db, "account", id),
    suppressionsOf(db, { type: "account", id, now }),
    accountUserCount(db, id),
    usersOfAccount(db, { accountId: id }),
  ]);
  return {
    type: "account",
    ...fields,
    tags,
    suppressions,
    userCount,
    users: users.users,
    usersNextCursor: users.nextCursor,
  };
}

export async function userProfile(db: DbOrTx, id: string, now = new Date()): Promise<UserProfile> {
  const fields = await userFields(db, id);
  if (!fields) throw entityNotFound("user", id);
  const [tags, suppressions, account, accountTags] = await Promise.all([
    entityTags(db, "user", id),
    suppressionsOf(db, { type: "user", id, now }),
    accountFields(db, fields.accountId),
    entityTags(db, "account", fields.accountId),
  ]);
  const { attributes: _a, updatedAt: _u, ...accountSummary } = account!;
  return {
    type: "user",
    ...fields,
    account: { ...accountSummary, tags: accountTags.map((t) => t.name) },
    tags,
    suppressions,
  };
}

export async function profileOf(
  db: DbOrTx,
  type: EntityType,
  id: string,
  now = new Date(),
): Promise<AccountProfile | UserProfile> {
  return type === "account" ? accountProfile(db, id, now) : userProfile(db, id, now);
}
