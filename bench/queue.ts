/**
 * The queue benchmark: one worker process on loopback Redis and Postgres.
 *
 *   npm run bench:queue -- [--trials 200] [--jobs 2000] [--users 5000] [--debounce-ms 500] [--json]
 *
 * - activity-to-tag latency: import one event (through the `import events`
 *   command) that makes a user active on 20 of the last 30 days, until the
 *   `power users` claim is visible; p50/p95 over --trials trials;
 * - on-demand re-evaluation of one entity (enqueue, until the job's result
 *   is seen): p50/p99 over --trials trials;
 * - throughput: --jobs single-entity jobs queued at once, jobs/s until all complete.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { createContext } from "../src/cli/context.ts";
import { main } from "../src/cli/main.ts";
import { loadConfig } from "../src/config.ts";
import { type Database, openPostgres, rows } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { QueueSet } from "../src/jobs/connection.ts";
import { enqueueEntities, evaluateEntitiesJob, MAX_ENTITY_BATCH } from "../src/jobs/evaluate-entities.ts";
import { waitForEnqueued } from "../src/jobs/wait.ts";
import { benchDatabaseUrl, parseArgs } from "./scratch.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs(process.argv.slice(2));
const trials = Number(args.trials ?? 200);
const jobCount = Number(args.jobs ?? 2000);
const users = Number(args.users ?? 5000);
const debounceMs = String(args["debounce-ms"] ?? 500);
const json = args.json === true;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `bench-queue-${process.pid}`;
const log = (s: string) => process.stderr.write(`${s}\n`);

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 10) / 10;
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: percentile(s, 100) };
}

/** The shipped rules without their schedules: only the benchmark's own jobs run. */
function rulesWithoutSchedules(): string {
  const source = path.join(root, "rules");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-bench-rules-"));
  for (const f of fs.readdirSync(source)) {
    if (!f.endsWith(".json") || f === "rule.schema.json") continue;
    const { schedule: _s, $schema: _d, ...rule } = JSON.parse(fs.readFileSync(path.join(source, f), "utf8"));
    fs.writeFileSync(path.join(dir, f), JSON.stringify(rule));
  }
  return dir;
}

async function cli(database: Database, env: Record<string, string>, argv: string[]): Promise<void> {
  let err = "";
  const ctx = createContext({
    config: loadConfig(env),
    database,
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s) },
  });
  const code = await main(argv, ctx);
  if (code !== 0) throw new Error(`signaltag ${argv.join(" ")} failed (${code}): ${err}`);
}

async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, "bin/signaltag.js"), "worker"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(" ready: ")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`worker exited (${code}):\n${out}`)));
  });
  return child;
}

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function cleanRedis(): Promise<void> {
  const redis = new Redis(redisUrl);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
  await redis.quit();
}

const url = await benchDatabaseUrl("signaltag_bench_queue");
const database = await openPostgres(url, { max: 4 });
await migrate(database);
const rulesDir = rulesWithoutSchedules();
const env: Record<string, string> = {
  DATABASE_URL: url,
  REDIS_URL: redisUrl,
  SIGNALTAG_RULES_DIR: rulesDir,
  SIGNALTAG_QUEUE_PREFIX: prefix,
  SIGNALTAG_DEBOUNCE_MS: debounceMs,
  SIGNALTAG_WORKER_CONCURRENCY: String(args.concurrency ?? 8),
};
const now = new Date();
const today = now.toISOString().slice(0, 10);

log(`seeding ${users} users (and ${trials} users one active day short of power users)...`);
await cli(database, env, [
  "seed",
  "--replace",
  "--accounts",
  String(Math.max(1, users / 10)),
  "--users",
  String(users),
]);
// Bench users: active on 19 of the last 30 days, not today; one event today makes them power users.
await database.db.execute(sql`
  insert into users (id, account_id, email, name, created_at)
  select 'bench-' || lpad(n::text, 5, '0'), (select min(id) from accounts), null, null, now() - interval '90 days'
  from generate_series(1, ${trials}) n`);
await database.db.execute(sql`
  insert into activity_daily (entity_type, entity_id, day, activity, module, count)
  select 'user', 'bench-' || lpad(n::text, 5, '0'), ${today}::date - d, 'login', '', 1
  from generate_series(1, ${trials}) n, generate_series(1, 19) d`);
await cli(database, env, ["run"]);

const worker = await startWorker(env);
const queues = new QueueSet(new Redis(redisUrl, { maxRetriesPerRequest: 2 }), prefix, true);
const figures: Record<string, unknown> = { trials, jobs: jobCount, users, debounceMs: Number(debounceMs) };
try {
  log(`activity-to-tag latency over ${trials} trials (debounce ${debounceMs} ms)...`);
  const eventsDir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-bench-events-"));
  const latency: number[] = [];
  for (let i = 1; i <= trials; i++) {
    const id = `bench-${String(i).padStart(5, "0")}`;
    const file = path.join(eventsDir, `${id}.csv`);
    fs.writeFileSync(
      file,
      `user_id,account_id,activity,module,occurred_at\n${id},,login,,${new Date().toISOString()}\n`,
    );
    const t0 = performance.now();
    await cli(database, env, ["import", "events", file]);
    await until(async () => {
      const found = await rows(
        database.db,
        sql`select 1 from claims c join tags t on t.id = c.tag_id
            where c.entity_id = ${id} and lower(t.name) = 'power users'`,
      );
      return found.length > 0;
    });
    latency.push(performance.now() - t0);
  }
  figures.activityToTagMs = summary(latency);
  log(`  p50 ${summary(latency).p50} ms, p95 ${summary(latency).p95} ms`);

  log(`on-demand single-entity re-evaluation over ${trials} trials...`);
  const ids = await rows<{ id: string }>(
    database.db,
    sql`select id from users order by id limit ${jobCount}`,
  );
  const onDemand: number[] = [];
  for (let i = 0; i < trials + 10; i++) {
    const id = ids[i % ids.length]!.id;
    const t0 = performance.now();
    const [enqueued] = await enqueueEntities(queues, "user", [id], { trigger: "manual", delayMs: 0 });
    const outcome = await waitForEnqueued(enqueued!, { pollMs: 5 });
    if (outcome.state !== "completed") throw new Error(`job failed: ${outcome.failedReason}`);
    // The first few warm connections and caches up.
    if (i >= 10) onDemand.push(performance.now() - t0);
  }
  figures.onDemandMs = summary(onDemand);
  log(`  p50 ${summary(onDemand).p50} ms, p99 ${summary(onDemand).p99} ms`);

  log(`throughput: ${jobCount} single-entity jobs queued at once...`);
  const before = (await queues.entities.getJobCounts("completed")).completed ?? 0;
  const t0 = performance.now();
  await queues.entities.addBulk(
    ids.map((r) => ({
      name: evaluateEntitiesJob.name,
      data: { type: "user", ids: [r.id], trigger: "manual" },
      opts: { ...evaluateEntitiesJob.options, removeOnComplete: { count: jobCount * 2 } },
    })),
  );
  await until(async () => {
    const c = await queues.entities.getJobCounts("completed", "failed");
    return (c.completed ?? 0) + (c.failed ?? 0) - before >= ids.length;
  }, 600_000);
  const elapsed = (performance.now() - t0) / 1000;
  figures.jobsPerSecond = Math.round((ids.length / elapsed) * 10) / 10;
  log(`  ${ids.length} jobs in ${elapsed.toFixed(2)} s: ${figures.jobsPerSecond} jobs/s`);

  log(`batched: the same ${jobCount} users in jobs of ${MAX_ENTITY_BATCH} (as an import queues them)...`);
  const t1 = performance.now();
  const batches = await enqueueEntities(
    queues,
    "user",
    ids.map((r) => r.id),
    { trigger: "event", delayMs: 0 },
  );
  for (const batch of batches) await waitForEnqueued(batch, { pollMs: 20 });
  const batchedSeconds = (performance.now() - t1) / 1000;
  figures.batchedEntitiesPerSecond = Math.round((ids.length / batchedSeconds) * 10) / 10;
  log(
    `  ${ids.length} users in ${batches.length} jobs in ${batchedSeconds.toFixed(2)} s: ${figures.batchedEntitiesPerSecond} entities/s`,
  );
} finally {
  worker.kill("SIGTERM");
  await new Promise((r) => worker.once("exit", r));
  await queues.close();
  await cleanRedis();
  await database.close();
}

if (json) process.stdout.write(`${JSON.stringify(figures)}\n`);
else process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
