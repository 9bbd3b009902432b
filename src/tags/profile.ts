import { type ClaimInfo, type EntityTag, entityTags } from "../claims/entity-tags.ts";
import type { DbOrTx } from "../db/client.ts";
import type { EntityType } from "../facts/catalog.ts";
import type { Explanation } from "../runs/explanation.ts";
import { explanationSentences, explanationWithWords } from "../runs/explanation-words.ts";
import { decodeCursor, encodeCursor, isString } from "./cursor.ts";
import { entityNotFound } from "./manual.ts";
import { expandExplanations, ruleVersionKey, ruleVersionNames } from "./sql/history.ts";
import {
  type AccountFields,
  type AccountUser,
  accountFields,
  accountUserCount,
  accountUsers,
  ruleClaimEvents,
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
  tags: ProfileTag[];
  /** Suppressions in force: rules that may not claim a tag here. */
  suppressions: Suppression[];
  userCount: number;
  users: UsersPage["users"];
  usersNextCursor: string | null;
}

export interface UserProfile extends UserFields {
  type: "user";
  account: Omit<AccountFields, "attributes" | "updatedAt"> & { tags: string[] };
  tags: ProfileTag[];
  suppressions: Suppression[];
}

/** Why a rule holds its claim: the rule, and the conditions that matched when it claimed, in words. */
export interface RuleClaimWhy {
  id: string;
  name?: string;
  asOf: string | null;
  because: string[];
}

/** A tag on a profile: each claim, and for a rule's claim why the rule made it. */
export interface ProfileTag extends EntityTag {
  claims: (ClaimInfo & { rule?: RuleClaimWhy })[];
}

/** The entity's tags, each rule claim with the words of the run that made it. */
async function profileTags(db: DbOrTx, type: EntityType, id: string): Promise<ProfileTag[]> {
  const [tags, events] = await Promise.all([entityTags(db, type, id), ruleClaimEvents(db, type, id)]);
  if (events.length === 0) return tags;
  await expandExplanations(db, events);
  const names = await ruleVersionNames(db, events);
  const why = new Map<string, RuleClaimWhy>();
  for (const e of events) {
    if (!e.rule_id) continue;
    const name = names.get(ruleVersionKey(e));
    const explanation = e.explanation
      ? explanationWithWords(e.explanation as unknown as Explanation, name)
      : undefined;
    why.set(JSON.stringify([e.tag, e.source]), {
      id: e.rule_id,
      ...(name === undefined ? {} : { name }),
      asOf: e.as_of,
      because: explanation ? explanationSentences(explanation, "add") : [],
    });
  }
  return tags.map((t) => ({
    ...t,
    claims: t.claims.map((c) => {
      const rule = why.get(JSON.stringify([t.name, c.source]));
      return rule ? { ...c, rule } : c;
    }),
  }));
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
    profileTags(db, "account", id),
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
    profileTags(db, "user", id),
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
