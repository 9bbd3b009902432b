import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const ruleRunStatuses = ["running", "applied", "held", "dry-run", "failed"] as const;
export const ruleRunTriggers = ["manual", "schedule", "api", "event"] as const;

/** One evaluation of one rule. */
export const ruleRuns = pgTable(
  "rule_runs",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    ruleId: text("rule_id").notNull(),
    ruleVersion: text("rule_version").notNull(),
    trigger: text("trigger", { enum: ruleRunTriggers }).notNull(),
    asOf: timestamp("as_of", { withTimezone: true, mode: "date" }).notNull(),
    status: text("status", { enum: ruleRunStatuses }).notNull(),
    forced: boolean("forced").notNull().default(false),
    evaluated: integer("evaluated").notNull().default(0),
    matched: integer("matched").notNull().default(0),
    added: integer("added").notNull().default(0),
    removed: integer("removed").notNull().default(0),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    durationMs: integer("duration_ms"),
    error: text("error"),
    details: jsonb("details"),
  },
  (t) => [index("rule_runs_rule_idx").on(t.ruleId, t.id)],
);
