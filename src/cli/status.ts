import type { Command } from "commander";
import { openQueues, type QueueSet } from "../jobs/connection.ts";
import { collectStatus, type RuleStatus } from "../jobs/status.ts";
import { loadRulesDir } from "../rules/load.ts";
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
        await warnRulesToRetire(ctx, database, rules, { filesComplete: problems.length === 0 });
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify({ ...status, ...(queueNote ? { note: queueNote } : {}) })}\n`);
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
        if (status.queues) {
          for (const [name, counts] of Object.entries(status.queues)) {
            const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`);
            ctx.stdout.write(`queue ${name}: ${parts.join(", ")}\n`);
          }
        }
        for (const a of status.abandonedRuns ?? []) {
          ctx.stdout.write(
            `abandoned run: ${a.rule} (run ${a.runKey}): ${a.partitions} partition${a.partitions === 1 ? "" : "s"} stored, last at ${a.lastPartitionAt}, but its jobs are gone from Redis (Redis lost its data?); it will not finish: enqueue it again (signaltag enqueue run --rule ${a.rule}); its rows are inert and dropped after a day\n`,
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
