import { csvLine } from "../csv.ts";
import type { EntityType } from "../facts/catalog.ts";
import type { SegmentAccountRow, SegmentRow, SegmentUserRow } from "./query.ts";

const userColumns = ["id", "account_id", "email", "name", "created_at", "tags"];
const accountColumns = [
  "id",
  "name",
  "provisioned_at",
  "contract_status",
  "renewal_date",
  "health_score",
  "health",
  "tags",
];

export function csvHeader(type: EntityType): string {
  return `${(type === "user" ? userColumns : accountColumns).join(",")}\n`;
}

/** Rows as CSV lines; an entity's tags are joined by ';' in name order. */
export function csvLines(type: EntityType, rows: readonly SegmentRow[]): string {
  let out = "";
  for (const row of rows) {
    const values =
      type === "user"
        ? (() => {
            const r = row as SegmentUserRow;
            return [r.id, r.accountId, r.email, r.name, r.createdAt, r.tags.join(";")];
          })()
        : (() => {
            const r = row as SegmentAccountRow;
            return [
              r.id,
              r.name,
              r.provisionedAt,
              r.contractStatus,
              r.renewalDate,
              r.healthScore,
              r.health,
              r.tags.join(";"),
            ];
          })();
    out += csvLine(values);
  }
  return out;
}
