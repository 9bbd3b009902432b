import { sql } from "drizzle-orm";
import { check, date, doublePrecision, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const contractStatuses = ["trial", "paying", "churned"] as const;
export const healthLabels = ["good", "average", "poor"] as const;

export const accounts = pgTable(
  "accounts",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    provisionedAt: timestamp("provisioned_at", { withTimezone: true, mode: "date" }).notNull(),
    contractStatus: text("contract_status", { enum: contractStatuses }),
    renewalDate: date("renewal_date", { mode: "string" }),
    healthScore: doublePrecision("health_score"),
    /** The explicit label, or the one derived from the score at import. */
    health: text("health", { enum: healthLabels }),
    attributes: jsonb("attributes").$type<Record<string, unknown>>().notNull().default({}),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    check("accounts_contract_status_check", sql`${t.contractStatus} in ('trial', 'paying', 'churned')`),
    check("accounts_health_check", sql`${t.health} in ('good', 'average', 'poor')`),
    check("accounts_health_score_check", sql`${t.healthScore} between 0 and 100`),
    // Accounts provisioned between two instants: what an incremental run must evaluate besides the changes.
    index("accounts_provisioned_at_idx").on(t.provisionedAt),
  ],
);
