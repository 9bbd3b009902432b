import type { Command } from "commander";
import { waitingSummary } from "../ingest/index.ts";
import { openQueues, type QueueSet } from "../jobs/connection.ts";
import { collectStatus, type RuleStatus } from "../jobs/status.ts";
import { loadRulesDir } from "../rules/load.ts";
import { webhookFigures } from "../webhooks/deliveries.ts";
import type { CliContext } from "./context.ts";
import { displayDir, table } from "./format.ts";
import { warnRulesToRetire } from "./rules.ts";

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("Per rule: last run, next scheduled run, queued jobs, and whether it is stale.")
    .option("--json", "print one JSON object")
    .action(async (opts: { json?: boolean }) => {
      // Status still shows what it can while a rule file is broken.
      const { rules, problems } = await loadRulesDir(ctx.config.rulesDir);
      const database = await ctx.database();
      let queues: QueueSet | undefined;
      let queueNote: string | undefined;
      if (ctx.config.redisUrl) {
        try {
          queues = await openQueues(ctx.config, "status");
        } catch (err) {
          queueNote = err instanceof Error ? err.message : String(err);
        }
      } else {
        queueNote = "REDIS_URL is not set: no queue, rules run inline with `signaltag run`";
      }
      try {
        const status = await collectStatus(database.db, rules, queues, new Date());
        const waiting = await waitingSummary(database.db);
        await warnRulesToRetire(ctx, database, rules, { filesComplete: problems.length === 0 });
        const webhooks = await webhookFigures(database.db);
        if (opts.json) {
          ctx.stdout.write(
            `${JSON.stringify({ ...status, ingestWaiting: waiting, webhooks, ...(queueNote ? { note: queueNote } : {}) })}\n`,
          );
          return;
        }
        if (status.rules.length === 0) {
          ctx.stdout.write(`no rules in ${displayDir(ctx.config.rulesDir)} (SIGNALTAG_RULES_DIR)\n`);
        } else {
          ctx.stdout.write(
            table(
              ["rule", "tag", "schedule", "last run", "status", "changes", "next run", "queued", "stale"],
              status.rules.map(row),
            ),
          );
        }
        for (const r of status.rules) {
          if (r.stale) ctx.stdout.write(`stale: ${r.rule}: ${r.staleReason}\n`);
        }
        for (const o of status.orphanedRuns) {
          ctx.stdout.write(
            `orphaned: ${o.rule}: ${o.partitions} partition${o.partitions === 1 ? "" : "s"} of run ${o.runKey} (stored ${o.storedAt}) belong to no pending job, so that run will never be applied (Redis lost its job, or the job failed); run the rule again (signaltag enqueue run --rule ${o.rule}): the leftover rows do not block it and are removed a day after they were stored\n`,
          );
        }
        if (status.queues) {
          for (const [name, counts] of Object.entries(status.queues)) {
            const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`);
            ctx.stdout.write(`queue ${name}: ${parts.join(", ")}\n`);
          }
        }
        const held = waiting.events + waiting.identifies + waiting.memberships;
        if (held > 0) {
          ctx.stdout.write(
            `ingestion: ${waiting.events} events, ${waiting.identifies} identifies and ${waiting.memberships} memberships wait for their user or account (oldest ${Math.round(waiting.oldestSeconds ?? 0)} s)\n`,
          );
        }
        const { track, identify, member } = waiting.expired;
        if (track + identify + member > 0) {
          const days = ctx.config.ingest.waitDays;
          ctx.stdout.write(
            `ingestion: ${track} events, ${identify} identifies and ${member} memberships expired after waiting ${days > 0 ? `${days} days` : "past the retention"} for a user or account never identified (last at ${waiting.lastExpiredAt}; SIGNALTAG_INGEST_WAIT_DAYS)\n`,
          );
        }
        for (const w of webhooks) {
          const age =
            w.oldestPendingSeconds === null ? "" : ` (oldest ${Math.round(w.oldestPendingSeconds)} s)`;
          ctx.stdout.write(
            `webhook ${w.subscriptionId} ${w.url}${w.enabled ? "" : " (disabled)"}: ${w.pending} pending${age}, ${w.failed} failed\n`,
          );
        }
        if (queueNote) ctx.stdout.write(`note: ${queueNote}\n`);
      } finally {
        await queues?.close();
      }
    });
}

function row(r: RuleStatus): string[] {
  return [
    r.rule,
    r.tag,
    !r.enabled ? "disabled" : r.schedule ? `${r.schedule.cron} ${r.schedule.timezone}` : "-",
    r.lastRun?.at ?? "never",
    r.lastRun?.status ?? "-",
    r.lastRun ? `+${r.lastRun.added} -${r.lastRun.removed}` : "-",
    r.nextRunAt ?? "-",
    r.queued === undefined ? "?" : String(r.queued),
    r.stale ? "STALE" : "",
  ];
}
