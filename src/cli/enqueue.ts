import type { Command } from "commander";
import { openQueues, type QueueSet } from "../jobs/connection.ts";
import { enqueueRun } from "../jobs/enqueue-run.ts";
import { enqueueEntities } from "../jobs/evaluate-entities.ts";
import type { Enqueued } from "../jobs/job-kind.ts";
import type { RunJobResult } from "../jobs/run-payload.ts";
import { waitForEnqueued } from "../jobs/wait.ts";
import type { RunResult } from "../runs/run-result.ts";
import { loadValidRules, selectRules } from "../runs/runner.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";
import { ExitCode } from "./exit.ts";
import { exitForRuns, parseAsOf, printRunTable, toJson } from "./run.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerEnqueueCommands(program: Command, ctx: CliContext): void {
  const group = program
    .command("enqueue")
    .description("Queue rule runs or re-evaluations for the workers (needs REDIS_URL).");
  group
    .command("run")
    .description("Queue a run of every enabled rule, or of the named ones, for a worker.")
    .option("--rule <id>", "run only this rule (repeatable)", collect, [])
    .option("--as-of <instant>", "evaluate as of this ISO-8601 instant instead of when the job starts")
    .option("--force", "apply a run even when it would remove more claims than the guard allows")
    .option(
      "--full",
      "evaluate every entity, even where the rule's last run today allows evaluating only what changed since",
    )
    .option("--wait", "wait for the run and print its summary; exit 1 when it failed")
    .option("--json", "with --wait, print one JSON object per rule")
    .action(
      async (opts: {
        rule: string[];
        asOf?: string;
        force?: boolean;
        full?: boolean;
        wait?: boolean;
        json?: boolean;
      }) => {
        const asOf = parseAsOf(opts.asOf);
        // Unknown rules or an invalid rule set are refused here, before anything is queued.
        selectRules(await loadValidRules(ctx.config.rulesDir), opts.rule);
        await withQueues(ctx, "enqueue run", async (queues) => {
          const enqueued = await enqueueRun(queues, {
            ruleIds: opts.rule,
            ...(asOf ? { asOf } : {}),
            ...(opts.force ? { force: true } : {}),
            ...(opts.full ? { full: true } : {}),
            trigger: "manual",
          });
          await report(ctx, enqueued, opts);
        });
      },
    );
  group
    .command("entity")
    .description("Queue a re-evaluation of one user or account against every enabled rule of its type.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .option("--wait", "wait for the re-evaluation and print its summary; exit 1 when it failed")
    .option("--json", "with --wait, print one JSON object per rule")
    .action(async (typeArg: string, id: string, opts: { wait?: boolean; json?: boolean }) => {
      const type = parseEntityType(typeArg);
      await withQueues(ctx, "enqueue entity", async (queues) => {
        const [enqueued] = await enqueueEntities(queues, type, [id], { trigger: "manual", delayMs: 0 });
        await report(ctx, enqueued!, opts);
      });
    });
}

async function withQueues(ctx: CliContext, command: string, fn: (queues: QueueSet) => Promise<void>) {
  const queues = await openQueues(ctx.config, command);
  try {
    await fn(queues);
  } finally {
    await queues.close();
  }
}

async function report(ctx: CliContext, enqueued: Enqueued, opts: { wait?: boolean; json?: boolean }) {
  const what = enqueued.deduplicated
    ? `already queued as job ${enqueued.effectiveId} (${enqueued.queue.name})`
    : `queued job ${enqueued.jobId} (${enqueued.queue.name})`;
  if (!opts.wait) {
    ctx.stdout.write(`${what}\n`);
    return;
  }
  ctx.stderr.write(`${what}; waiting for it\n`);
  const outcome = await waitForEnqueued(enqueued);
  if (outcome.state === "failed") {
    ctx.stderr.write(
      `signaltag: job ${outcome.id} failed after ${outcome.attemptsMade} attempt${outcome.attemptsMade === 1 ? "" : "s"}: ${outcome.failedReason ?? "no reason given"}\n`,
    );
    throw new ExitCode(1);
  }
  const result = outcome.returnvalue as RunJobResult;
  const results = result.results as RunResult[];
  if (opts.json) for (const r of results) ctx.stdout.write(`${JSON.stringify(toJson(r))}\n`);
  else printRunTable(ctx, results, new Date(result.asOf));
  exitForRuns(results);
}
