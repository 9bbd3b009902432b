import type { Command } from "commander";
import { startWorkers } from "../../workers/registry.ts";
import { MissingPrerequisiteError } from "../errors/index.ts";
import { redactUrl } from "../errors/redact-url.ts";
import { closeRedis, openRedis, QueueSet, requireRedisUrl } from "../jobs/connection.ts";
import { scheduleWebhookDrains } from "../jobs/deliver-webhooks.ts";
import { QUEUES } from "../jobs/queues.ts";
import { keepSchedules, syncSchedulers } from "../jobs/scheduler.ts";
import { loadValidRules, runConcurrency } from "../runs/runner.ts";
import type { CliContext } from "./context.ts";
import { registerEnqueueCommands } from "./enqueue.ts";
import { registerScheduleCommands } from "./schedule.ts";
import { registerStatusCommand } from "./status.ts";

/** The queue commands: worker, schedule sync, enqueue run|entity and status. */
export function registerQueueCommands(program: Command, ctx: CliContext): void {
  registerWorkerCommand(program, ctx);
  registerScheduleCommands(program, ctx);
  registerEnqueueCommands(program, ctx);
  registerStatusCommand(program, ctx);
}

function registerWorkerCommand(program: Command, ctx: CliContext): void {
  program
    .command("worker")
    .description("Run queued and scheduled jobs until SIGTERM or SIGINT (needs REDIS_URL and DATABASE_URL).")
    .action(async () => {
      await runWorker(ctx);
    });
}

/**
 * The worker process. Shutdown lives here, in the entry point: the first
 * SIGTERM or SIGINT stops taking jobs and lets the current ones finish, then
 * closes the queues, Redis and the database, all within the shutdown deadline;
 * a second signal, or the deadline, exits at once and leaves unfinished jobs
 * to stalled-job recovery (their transactions roll back, nothing is half-done).
 */
async function runWorker(ctx: CliContext): Promise<void> {
  const { config } = ctx;
  const log = (line: string) => ctx.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const redisUrl = requireRedisUrl(config, "the worker");
  if (!config.databaseUrl) {
    throw new MissingPrerequisiteError(
      "the worker needs Postgres: set DATABASE_URL (e.g. DATABASE_URL=postgres://user@127.0.0.1:5432/signaltag); the embedded database serves one process at a time",
    );
  }
  const rules = await loadValidRules(config.rulesDir);
  const database = await ctx.database();
  let reportedRedisError = false;
  const onRedisError = (err: Error) => {
    if (reportedRedisError) return;
    reportedRedisError = true;
    log(`redis: ${err.message} (reconnecting)`);
  };
  const producer = await openRedis(redisUrl, "producer", { onError: onRedisError });
  const consumer = await openRedis(redisUrl, "worker", { onError: onRedisError });
  consumer.on("ready", () => {
    reportedRedisError = false;
  });
  const queues = new QueueSet(producer, config.queue.prefix);

  let stopping: ((signal: string) => void) | undefined;
  const stopped = new Promise<string>((resolve) => {
    stopping = resolve;
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`${signal} again: exiting now; unfinished jobs will be taken up again as stalled`);
      process.exit(130);
    }
    stopping?.(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  // The rules' schedulers and the webhook drain, put back whenever Redis comes back without them.
  const syncSchedules = async () => {
    const changes = await syncSchedulers(queues.rules, rules);
    await scheduleWebhookDrains(queues);
    return changes;
  };
  let stopKeeping = () => {};
  try {
    const changes = await syncSchedules();
    const changed = changes.filter((c) => c.action !== "unchanged");
    log(
      `schedulers: ${changes.length} rule${changes.length === 1 ? "" : "s"} scheduled` +
        (changed.length
          ? ` (${changed.map((c) => `${c.ruleId} ${c.action}`).join(", ")})`
          : ", none changed"),
    );
    stopKeeping = keepSchedules(producer, syncSchedules, log);
    const running = startWorkers(
      { db: database.db, config, queues, runConcurrency: runConcurrency(database, config.runConcurrency) },
      {
        connection: consumer,
        prefix: config.queue.prefix,
        concurrency: config.queue.concurrency,
        lockMs: config.queue.lockMs,
        log,
      },
    );
    await Promise.all(running.workers.map((w) => w.waitUntilReady()));
    log(
      `worker ${process.pid} ready: queues ${Object.values(QUEUES).join(", ")} under prefix ${config.queue.prefix} on ${redactUrl(redisUrl)}, concurrency ${config.queue.concurrency}`,
    );

    const signal = await stopped;
    log(`${signal}: no new jobs; finishing current ones (deadline ${config.queue.shutdownTimeoutMs} ms)`);
    stopKeeping();
    const deadline = setTimeout(() => {
      log("shutdown deadline passed: exiting; unfinished jobs will be taken up again as stalled");
      process.exit(1);
    }, config.queue.shutdownTimeoutMs);
    await running.close();
    await queues.close();
    await Promise.all([closeRedis(producer), closeRedis(consumer)]);
    await ctx.close();
    clearTimeout(deadline);
    const done = [...running.counts].map(
      ([name, c]) => `${name} ${c.completed} completed, ${c.failed} failed`,
    );
    log(`stopped${done.length ? `: ${done.join("; ")}` : ""}`);
  } finally {
    stopKeeping();
    process.removeListener("SIGTERM", onSignal);
    process.removeListener("SIGINT", onSignal);
    if (signals === 0) {
      await queues.close().catch(() => {});
      await Promise.all([closeRedis(producer), closeRedis(consumer)]);
    }
  }
}
