import type { Command } from "commander";
import { openQueues } from "../jobs/connection.ts";
import { syncSchedulers } from "../jobs/scheduler.ts";
import { loadValidRules } from "../runs/runner.ts";
import type { CliContext } from "./context.ts";
import { table } from "./format.ts";

export function registerScheduleCommands(program: Command, ctx: CliContext): void {
  program
    .command("schedule")
    .description("Manage the job schedulers that run rules on their cron.")
    .command("sync")
    .description(
      "Create, update or remove the job schedulers to match the rules' schedules (needs REDIS_URL).",
    )
    .action(async () => {
      // Validate first: an invalid rule set changes no scheduler.
      const rules = await loadValidRules(ctx.config.rulesDir);
      const queues = await openQueues(ctx.config, "schedule sync");
      try {
        const changes = await syncSchedulers(queues.rules, rules);
        printScheduleChanges(ctx, changes);
      } finally {
        await queues.close();
      }
    });
}

function printScheduleChanges(ctx: CliContext, changes: Awaited<ReturnType<typeof syncSchedulers>>): void {
  if (changes.length === 0) {
    ctx.stdout.write("no rule has a schedule; no job schedulers\n");
    return;
  }
  ctx.stdout.write(
    table(
      ["rule", "scheduler", "cron", "timezone", "next"],
      changes.map((c) => [
        c.ruleId,
        c.action,
        c.cron ?? "-",
        c.timezone ?? "-",
        c.next ? new Date(c.next).toISOString() : "-",
      ]),
    ),
  );
}
