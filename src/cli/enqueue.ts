import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { entityExists } from "../facts/sql/entities.ts";
import { openQueues, type QueueSet } from "../jobs/connection.ts";
import { enqueueRun } from "../jobs/enqueue-run.ts";
import { enqueueEntities } from "../jobs/evaluate-entities.ts";
import type { Enqueued } from "../jobs/job-kind.ts";
import type { RunJobResult } from "../jobs/run-payload.ts";
import { waitForEnqueued } from "../jobs/wait.ts";
import type { RunResult } from "../runs/run-result.ts";
import { loadValidRules, selectRules } from "../runs/runner.ts";
import { entityNotFound } from "../tags/manual.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";
import { ExitCode } from "./exit.ts";
import { exitForRuns, parseAsOf, printRunTable, toJson } from "./run.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

/** The exit code of a wait that reached --timeout, as timeout(1) uses. */
export const EXIT_TIMED_OUT = 124;

const timeoutHelp = `with --wait, give up after this many seconds (exit ${EXIT_TIMED_OUT}; the job stays queued)`;

interface WaitFlags {
  wait?: boolean;
  json?: boolean;
  timeout?: string;
}

function parseTimeout(opts: WaitFlags): number | undefined {
  if (opts.timeout === undefined) return undefined;
  const seconds = Number(opts.timeout);
  if (!/^\s*\d*\.?\d+\s*$/.test(opts.timeout) || !(seconds > 0)) {
    throw new InputError(
      `--timeout must be a positive number of seconds, not ${JSON.stringify(opts.timeout)}`,
    );
  }
  if (!opts.wait) throw new InputError("--timeout applies only with --wait");
  return seconds * 1000;
}

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
    .option("--timeout <seconds>", timeoutHelp)
    .option("--json", "with --wait, print one JSON object per rule")
    .action(
      async (
        opts: WaitFlags & {
          rule: string[];
          asOf?: string;
          force?: boolean;
          full?: boolean;
        },
      ) => {
        const asOf = parseAsOf(opts.asOf);
        const timeoutMs = parseTimeout(opts);
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
          await report(ctx, enqueued, opts, timeoutMs);
        });
      },
    );
  group
    .command("entity")
    .description("Queue a re-evaluation of one user or account against every enabled rule of its type.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .option("--wait", "wait for the re-evaluation and print its summary; exit 1 when it failed")
    .option("--timeout <seconds>", timeoutHelp)
    .option("--json", "with --wait, print one JSON object per rule")
    .action(async (typeArg: string, id: string, opts: WaitFlags) => {
      const type = parseEntityType(typeArg);
      const timeoutMs = parseTimeout(opts);
      // An unknown id is refused before anything is queued, as `tag add` refuses it.
      if (!(await entityExists((await ctx.database()).db, type, id))) throw entityNotFound(type, id);
      await withQueues(ctx, "enqueue entity", async (queues) => {
        const [enqueued] = await enqueueEntities(queues, type, [id], { trigger: "manual", delayMs: 0 });
        await report(ctx, enqueued!, opts, timeoutMs);
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

async function report(ctx: CliContext, enqueued: Enqueued, opts: WaitFlags, timeoutMs?: number) {
  const what = enqueued.deduplicated
    ? `already queued as job ${enqueued.effectiveId} (${enqueued.queue.name})`
    : `queued job ${enqueued.jobId} (${enqueued.queue.name})`;
  if (!opts.wait) {
    ctx.stdout.write(`${what}\n`);
    return;
  }
  ctx.stderr.write(`${what}; waiting for it\n`);
  const queue = enqueued.queue.name;
  const outcome = await waitForEnqueued(enqueued, {
    timeoutMs,
    onWorkers: (connected) =>
      ctx.stderr.write(
        connected === 0
          ? `signaltag: no worker is connected to queue ${queue} (prefix ${ctx.config.queue.prefix}); the job waits until one starts: run \`signaltag worker\` with the same REDIS_URL and SIGNALTAG_QUEUE_PREFIX\n`
          : `signaltag: ${connected === 1 ? "a worker" : `${connected} workers`} connected to queue ${queue}; still waiting for job ${enqueued.effectiveId}\n`,
      ),
  });
  if (outcome.state === "timed-out") {
    ctx.stderr.write(
      `signaltag: job ${outcome.id} (${queue}) did not finish within ${opts.timeout} s (it is ${outcome.jobState}); it stays queued, and a worker will still run it\n`,
    );
    throw new ExitCode(EXIT_TIMED_OUT);
  }
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
