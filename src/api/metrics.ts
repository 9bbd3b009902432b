import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DbOrTx } from "../db/client.ts";
import { claimCountsByKind, lastRuleRuns, ruleRunCounts } from "../runs/sql/run-stats.ts";
import { registerWebhookGauges } from "./webhook-metrics.ts";

/**
 * The API's Prometheus metrics, in a registry of its own (several servers can
 * live in one process, as in tests). Counters count what this process did;
 * the gauges read the database at scrape time, so they include rule runs by
 * workers and the CLI too.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status_code">;
  readonly claimsAdded: Counter<"source">;
  readonly claimsRemoved: Counter<"source">;
  readonly runs: Counter<"status">;
  readonly jobDuration: Histogram<"kind" | "status">;

  constructor(db: DbOrTx) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "signaltag_" });
    this.httpDuration = new Histogram({
      name: "signaltag_http_request_duration_seconds",
      help: "HTTP request latency by method, route pattern and status code.",
      labelNames: ["method", "route", "status_code"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.claimsAdded = new Counter({
      name: "signaltag_claims_added_total",
      help: "Claims added through this process, by source (manual, bulk, file, rule).",
      labelNames: ["source"],
      registers,
    });
    this.claimsRemoved = new Counter({
      name: "signaltag_claims_removed_total",
      help: "Claims removed through this process, by source kind of the removed claim.",
      labelNames: ["source"],
      registers,
    });
    this.runs = new Counter({
      name: "signaltag_rule_runs_total",
      help: "Rule runs started through this process, by outcome (applied, held, dry-run, failed, queued).",
      labelNames: ["status"],
      registers,
    });
    this.jobDuration = new Histogram({
      name: "signaltag_job_duration_seconds",
      help: "Duration of work done by this process: rule runs, bulk changes and file imports.",
      labelNames: ["kind", "status"],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
      registers,
    });
    new Gauge({
      name: "signaltag_rule_runs_recorded",
      help: "Rule runs recorded in the database by any process, by status.",
      labelNames: ["status"],
      registers,
      async collect() {
        this.reset();
        for (const r of await ruleRunCounts(db)) this.set({ status: r.status }, r.n);
      },
    });
    new Gauge({
      name: "signaltag_rule_last_run_duration_seconds",
      help: "Duration of each rule's latest run over all its entities, full or incremental, by rule and status (any process).",
      labelNames: ["rule", "status"],
      registers,
      async collect() {
        this.reset();
        for (const r of await lastRuleRuns(db))
          this.set({ rule: r.rule_id, status: r.status }, Number(r.seconds));
      },
    });
    new Gauge({
      name: "signaltag_claims",
      help: "Claims held now, by kind of source.",
      labelNames: ["source"],
      registers,
      async collect() {
        this.reset();
        for (const r of await claimCountsByKind(db)) this.set({ source: r.kind }, r.n);
      },
    });
    registerWebhookGauges(this.registry, db);
  }

  /** Counts claims added or removed, by source kind (rule:<id> counts as rule). */
  countClaims(direction: "added" | "removed", sources: Iterable<string>): void {
    const counter = direction === "added" ? this.claimsAdded : this.claimsRemoved;
    for (const s of sources) counter.inc({ source: s.startsWith("rule:") ? "rule" : s });
  }
}
