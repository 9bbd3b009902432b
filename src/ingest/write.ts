import { setTimeout as sleep } from "node:timers/promises";
import type { Database, Tx } from "../db/client.ts";
import { isTransactionConflict } from "../db/connection-errors.ts";
import { inTransaction } from "../db/transaction.ts";
import { IngestBusyError } from "../errors/index.ts";
import { addEventRollups } from "../imports/rollups.ts";
import { foldAccounts, UserFolder, waitingForms } from "./entities.ts";
import { type AccountRow, upsertAccounts } from "./sql/accounts.ts";
import { INSERTED_EVENTS, STORED_EVENTS, type StoredEvents, storeEvents } from "./sql/events.ts";
import { upsertUsers } from "./sql/users.ts";
import { allKnown, knownButWaiting, lockWaiting, parkEntities, takeWaitingEntities } from "./sql/waiting.ts";
import type { AccountUpdate, Mapped, TrackEvent, WriteOutcome } from "./types.ts";

/** Most known users and most known accounts one sweep releases waiting messages for. */
const SWEEP_LIMIT = 1_000;
/**
 * How often a commit that lost a deadlock or serialization race is run again
 * before the requests are answered 503 (retriable) instead.
 */
const CONFLICT_ATTEMPTS = 8;

/** A mapped message and when its request was received (ISO-8601). */
export interface Accepted {
  mapped: Mapped;
  receivedAt: string;
}

/**
 * Stores one commit's messages (those of every request the group commit
 * joined) in one transaction, with a fixed number of statements whatever
 * their count: accounts first (a group may name a new account), then users
 * (with the identifies and memberships that waited for them), then events
 * (with the events that waited for those users and accounts) and their
 * rollups, through the rollups' one writer. The triggers on these tables
 * log the change for incremental runs, as for a file import. With `sweep`,
 * it also applies what waits for users and accounts that became known some
 * other way (a file import), a bounded number at a time.
 *
 * Several commits run at once (the group commit's `inFlight`): their
 * upserts lock rows in one order (ids, messageIds, rollup keys, summaries),
 * and lockWaiting() keeps parking and releasing exact. Should two commits
 * still deadlock (Postgres picks one to roll back) or lose a serialization
 * race, the loser runs again from the start: nothing of it was committed,
 * and its requests are answered only once it is.
 */
export async function writeMessages(
  database: Database,
  items: readonly Accepted[],
  timezone: string,
  opts: { sweep?: boolean } = {},
): Promise<WriteOutcome> {
  const accountsIn: AccountUpdate[] = [];
  const events: TrackEvent[] = [];
  const users = new UserFolder();
  for (const { mapped, receivedAt } of items) {
    if (mapped.type === "group") {
      accountsIn.push(mapped.account);
      if (mapped.account.userId !== null) {
        users.join(mapped.account.userId, mapped.account.accountId, mapped.account.seenAt, receivedAt);
      }
    } else if (mapped.type === "identify") {
      users.identify(mapped.user, receivedAt);
    } else if (mapped.type === "track") {
      events.push(mapped.event);
    }
  }
  const accountRows = foldAccounts(accountsIn);
  const commit = { accountRows, events, users, timezone, sweep: opts.sweep === true };
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(database.db, (tx) => writeFolded(tx, commit));
    } catch (err) {
      if (!isTransactionConflict(err)) throw err;
      if (attempt >= CONFLICT_ATTEMPTS) {
        throw new IngestBusyError("the messages lost a race with other writes too often; send again");
      }
      // Jittered, growing waits, so that the same commits do not meet again at once.
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}

/** writeMessages() once, in the transaction `tx`. */
async function writeFolded(
  tx: Tx,
  commit: {
    accountRows: AccountRow[];
    events: TrackEvent[];
    users: UserFolder;
    timezone: string;
    sweep: boolean;
  },
): Promise<WriteOutcome> {
  const { accountRows, events, users, timezone } = commit;
  const namedAccounts = [
    ...accountRows.map((a) => a.id),
    ...users.rows().flatMap((r) => (r.account_id !== null ? [r.account_id] : [])),
  ];
  // Only a commit naming a user or account that does not exist yet can release what waits.
  const mayCreate =
    commit.sweep ||
    ((users.size > 0 || namedAccounts.length > 0) && !(await allKnown(tx, users.ids(), namedAccounts)));
  await lockWaiting(tx, mayCreate ? "exclusive" : "shared");

  const accountsWritten = accountRows.length > 0 ? await upsertAccounts(tx, accountRows) : [];
  const known = commit.sweep ? await knownButWaiting(tx, SWEEP_LIMIT) : { users: [], accounts: [] };
  const accountIds = [...new Set([...accountRows.map((a) => a.id), ...known.accounts])];

  // What waited for these users or accounts comes first, as the older messages.
  const waiting = await takeWaitingEntities(tx, [...new Set([...users.ids(), ...known.users])], accountIds);
  const folded = new UserFolder();
  for (const w of waiting) folded.resume(w);
  for (const row of users.rows()) {
    if (!row.member_only) {
      folded.identify(
        {
          userId: row.id,
          accountId: row.account_id,
          ...(row.email !== null ? { email: row.email } : {}),
          ...(row.name !== null ? { name: row.name } : {}),
          ...(row.created_at !== null ? { createdAt: row.created_at } : {}),
          attributes: row.attributes,
          seenAt: row.seen_at,
        },
        row.received_at,
      );
    } else if (row.account_id !== null) {
      folded.join(row.id, row.account_id, row.seen_at, row.received_at);
    }
  }
  const userRows = folded.rows();
  const outcomes = userRows.length > 0 ? await upsertUsers(tx, userRows) : [];
  const applied = new Set(outcomes.filter((o) => o.resolved).map((o) => o.id));
  await parkEntities(tx, waitingForms(userRows, outcomes));
  // Tracks wait for users applied now, and for users known through another door (a sweep).
  const resolved = new Set([...applied, ...known.users]);

  let stored: StoredEvents = { stored: 0, ready: 0, parked: 0, released: 0, users: [], accounts: [] };
  if (events.length > 0 || resolved.size > 0 || accountIds.length > 0) {
    const [row] = await addEventRollups<StoredEvents>(tx, {
      before: storeEvents(events, [...resolved], accountIds),
      events: INSERTED_EVENTS,
      timezone,
      concurrent: true,
      select: STORED_EVENTS,
    });
    if (row) stored = row;
  }
  const usersWritten = outcomes.filter((o) => o.written).map((o) => o.id);
  return {
    eventsStored: Number(stored.stored),
    eventsDuplicate: Number(stored.ready) - Number(stored.stored),
    eventsWaiting: Number(stored.parked),
    eventsReleased: Number(stored.released),
    usersWritten: usersWritten.length,
    accountsWritten: accountsWritten.length,
    touched: {
      users: [...new Set([...usersWritten, ...stored.users])],
      accounts: [...new Set([...accountsWritten, ...stored.accounts])],
    },
  };
}
