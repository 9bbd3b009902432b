/** What one tracking-API message becomes once mapped (see docs/ingest.md). */

/** A `track`: one activity event. Timestamps are ISO-8601 text. */
export interface TrackEvent {
  /** messageId: a message sent again (a client's retry) is stored once. */
  eventId: string | null;
  userId: string | null;
  /** context.groupId; a known user's events always count for the user's own account. */
  accountId: string | null;
  activity: string;
  module: string | null;
  count: number;
  /** The client's timestamp corrected for its clock skew. */
  occurredAt: string;
  receivedAt: string;
}

/** An `identify`: the user's fields; absent fields (undefined) keep what is stored. */
export interface UserUpdate {
  userId: string;
  /** context.groupId, when given. */
  accountId: string | null;
  email?: string;
  name?: string;
  /** From traits createdAt / created_at; without it a new user is created when first seen. */
  createdAt?: string;
  attributes: Record<string, unknown>;
  seenAt: string;
}

/** A `group`: the account's fields, and the user who joins it when userId is given. */
export interface AccountUpdate {
  accountId: string;
  userId: string | null;
  name?: string;
  provisionedAt?: string;
  contractStatus?: "trial" | "paying" | "churned";
  renewalDate?: string;
  healthScore?: number;
  health?: "good" | "average" | "poor";
  attributes: Record<string, unknown>;
  seenAt: string;
}

export type IgnoredKind = "page" | "screen" | "alias" | "anonymous";

export type Mapped =
  | { type: "track"; event: TrackEvent }
  | { type: "identify"; user: UserUpdate }
  | { type: "group"; account: AccountUpdate }
  | { type: "ignored"; kind: IgnoredKind };

/** A message that can never be stored: its index in the request and why. */
export interface MessageProblem {
  index: number;
  message: string;
}

/** What one commit stored: counts, and the entities whose data changed (for re-evaluation). */
export interface WriteOutcome {
  eventsStored: number;
  eventsDuplicate: number;
  eventsWaiting: number;
  eventsReleased: number;
  usersWritten: number;
  accountsWritten: number;
  touched: { users: string[]; accounts: string[] };
}
