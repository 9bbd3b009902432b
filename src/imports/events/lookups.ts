import type postgres from "postgres";
import type { Tx } from "../../db/client.ts";
import { collationOrder, eachUserAccount, hoursAtOtherOffsets, moreUsersThan } from "../sql/events-direct.ts";
import type { ValueRanks } from "./key-order.ts";
import type { EventSums } from "./sums.ts";
import { UserAccounts } from "./user-accounts.ts";

/*
 * What the direct path asks the database before it trusts this process's
 * work: users' accounts, the order of text, the time zone's offsets.
 */

/**
 * Every user's account, read in batches, or undefined when there are more
 * users than UserAccounts keeps.
 */
export async function userAccounts(connection: postgres.Sql): Promise<UserAccounts | undefined> {
  if (await moreUsersThan(connection, UserAccounts.limit)) return undefined;
  const accounts = new UserAccounts();
  await eachUserAccount(connection, (user, account) => accounts.add(user, account));
  return accounts.full ? undefined : accounts;
}

/**
 * How the database orders the sums' users, accounts, activities and modules
 * (the collation of the rollups' key), so that the sums can be sent in the
 * key's order.
 */
export async function valueRanks(tx: Tx, sums: EventSums): Promise<ValueRanks> {
  const found = await collationOrder(tx, sums.values());
  // Each list comes back as the 1-based positions of its values in order; the rank of a value is its place there.
  const rank = (sorted: string | undefined) => {
    const positions = JSON.parse(sorted ?? "[]") as number[];
    const out = new Int32Array(positions.length);
    positions.forEach((position, place) => {
      out[position - 1] = place;
    });
    return out;
  };
  return {
    users: rank(found.users),
    accounts: rank(found.accounts),
    activities: rank(found.activities),
    modules: rank(found.modules),
  };
}

/**
 * Whether Postgres puts every hour the sums met at the UTC offset this
 * process used for it, at its first and last second: then each event's day,
 * (occurred_at at time zone ...)::date, is the one it was summed on.
 */
export async function sameDays(tx: Tx, sums: EventSums, timezone: string): Promise<boolean> {
  if (sums.offsets.size === 0) return true;
  const hours = [...sums.offsets].map(([hour, offset]) => ({ hour, offset }));
  return (await hoursAtOtherOffsets(tx, hours, timezone)) === 0;
}
