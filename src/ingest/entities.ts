import type { AccountRow } from "./sql/accounts.ts";
import type { UserOutcome, UserRow } from "./sql/users.ts";
import type { WaitingEntityRow } from "./sql/waiting.ts";
import type { AccountUpdate, UserUpdate } from "./types.ts";

/*
 * Folding one commit's identifies and groups into one row per user and per
 * account (a statement may write each row once), in the order the messages
 * came: later fields win, attributes add up.
 */

export function foldAccounts(updates: readonly AccountUpdate[]): AccountRow[] {
  const byId = new Map<string, AccountRow>();
  for (const u of updates) {
    const row = byId.get(u.accountId) ?? {
      id: u.accountId,
      name: null,
      provisioned_at: null,
      contract_status: null,
      renewal_date: null,
      health_score: null,
      health: null,
      attributes: {},
      seen_at: u.seenAt,
    };
    if (u.name !== undefined) row.name = u.name;
    if (u.provisionedAt !== undefined) row.provisioned_at = u.provisionedAt;
    if (u.contractStatus !== undefined) row.contract_status = u.contractStatus;
    if (u.renewalDate !== undefined) row.renewal_date = u.renewalDate;
    if (u.healthScore !== undefined) row.health_score = u.healthScore;
    if (u.health !== undefined) row.health = u.health;
    Object.assign(row.attributes, u.attributes);
    if (u.seenAt < row.seen_at) row.seen_at = u.seenAt;
    byId.set(u.accountId, row);
  }
  return sortedById([...byId.values()]);
}

/**
 * Rows in id order: two processes that upsert the same rows then lock them
 * in the same order, so their transactions wait for each other instead of
 * deadlocking.
 */
function sortedById<T extends { id: string }>(list: T[]): T[] {
  return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A user as the messages of a commit (and those that waited) describe it. */
export interface UserFold extends UserRow {
  /**
   * When the latest of its messages was received: a parked fold is one
   * user's identifies folded into one, and its retention counts from the
   * latest, so a user still being identified does not expire.
   */
  received_at: string;
  /** When the message that named account_id was received: a waiting account move counts from then. */
  account_at: string;
}

export class UserFolder {
  private readonly byId = new Map<string, UserFold>();

  private fold(userId: string, seenAt: string, receivedAt: string): UserFold {
    let row = this.byId.get(userId);
    if (!row) {
      row = {
        id: userId,
        account_id: null,
        email: null,
        name: null,
        created_at: null,
        attributes: {},
        seen_at: seenAt,
        member_only: true,
        received_at: receivedAt,
        account_at: receivedAt,
      };
      this.byId.set(userId, row);
    }
    if (seenAt < row.seen_at) row.seen_at = seenAt;
    if (receivedAt > row.received_at) row.received_at = receivedAt;
    return row;
  }

  identify(u: UserUpdate, receivedAt: string): void {
    const row = this.fold(u.userId, u.seenAt, receivedAt);
    row.member_only = false;
    if (u.accountId !== null) {
      row.account_id = u.accountId;
      row.account_at = receivedAt;
    }
    if (u.email !== undefined) row.email = u.email;
    if (u.name !== undefined) row.name = u.name;
    if (u.createdAt !== undefined) row.created_at = u.createdAt;
    Object.assign(row.attributes, u.attributes);
  }

  /** A group message with a userId: the user joins the account. */
  join(userId: string, accountId: string, seenAt: string, receivedAt: string): void {
    const row = this.fold(userId, seenAt, receivedAt);
    row.account_id = accountId;
    row.account_at = receivedAt;
  }

  /** A waiting identify (its fold, parked earlier) or membership, applied before this commit's messages. */
  resume(w: WaitingEntityRow): void {
    if (w.user_id === null) return;
    if (w.kind === "member") {
      if (w.account_id !== null) this.join(w.user_id, w.account_id, w.received_at, w.received_at);
      return;
    }
    const m = w.message as Partial<UserRow>;
    this.identify(
      {
        userId: w.user_id,
        accountId: w.account_id,
        ...(m.email ? { email: m.email } : {}),
        ...(m.name ? { name: m.name } : {}),
        ...(m.created_at ? { createdAt: m.created_at } : {}),
        attributes: m.attributes ?? {},
        seenAt: m.seen_at ?? w.received_at,
      },
      w.received_at,
    );
  }

  get size(): number {
    return this.byId.size;
  }

  /** The folds in id order (see sortedById). */
  rows(): UserFold[] {
    return sortedById([...this.byId.values()]);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }
}

/**
 * What of these folds waits after upsertUsers() answered `outcomes`: a fold
 * not applied waits whole (an identify with its fields, or a bare
 * membership); an applied fold whose account is not known yet leaves only
 * its account move waiting, as a membership.
 */
export function waitingForms(folds: readonly UserFold[], outcomes: readonly UserOutcome[]) {
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  const forms: ReturnType<typeof parkedForm>[] = [];
  for (const fold of folds) {
    const outcome = byId.get(fold.id);
    if (!outcome?.resolved) forms.push(parkedForm(fold));
    else if (outcome.accountWaits && fold.account_id !== null) {
      forms.push({
        kind: "member",
        user_id: fold.id,
        account_id: fold.account_id,
        message: {},
        received_at: fold.account_at,
      });
    }
  }
  return forms;
}

/** How a fold that cannot be applied yet waits: an identify with its fields, or a bare membership. */
function parkedForm(row: UserFold) {
  const { member_only, received_at, account_at, account_id, id, ...message } = row;
  return {
    kind: member_only ? ("member" as const) : ("identify" as const),
    user_id: id,
    account_id,
    message: member_only ? {} : message,
    received_at: member_only ? account_at : received_at,
  };
}
