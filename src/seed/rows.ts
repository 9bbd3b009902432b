import type { SeedAccount } from "./accounts.ts";
import type { SeedEvent } from "./events.ts";
import type { SeedUser } from "./users.ts";

/** Table rows as the bulk loader takes them: text values in column order, null for NULL. */
export type Row = (string | null)[];

export const accountColumns = [
  "id",
  "name",
  "provisioned_at",
  "contract_status",
  "renewal_date",
  "health_score",
  "health",
  "attributes",
] as const;

export function accountRow(a: SeedAccount): Row {
  return [
    a.id,
    a.name,
    new Date(a.provisionedAt).toISOString(),
    a.contractStatus,
    a.renewalDate,
    a.healthScore === null ? null : String(a.healthScore),
    a.health,
    JSON.stringify(a.attributes),
  ];
}

export const userColumns = ["id", "account_id", "email", "name", "created_at", "attributes"] as const;

export function userRow(u: SeedUser): Row {
  return [
    u.id,
    u.accountId,
    u.email,
    u.name,
    new Date(u.createdAt).toISOString(),
    JSON.stringify(u.attributes),
  ];
}

export const eventColumns = ["user_id", "account_id", "activity", "module", "occurred_at", "count"] as const;

export function eventRow(e: SeedEvent): Row {
  return [e.userId, e.accountId, e.activity, e.module, new Date(e.occurredAt).toISOString(), String(e.count)];
}

/** Maps a synchronous stream to the async iterable the bulk loader reads. */
export async function* rowsOf<T>(
  items: Iterable<T>,
  toRow: (item: T) => Row,
): AsyncGenerator<Row, void, undefined> {
  for (const item of items) yield toRow(item);
}
