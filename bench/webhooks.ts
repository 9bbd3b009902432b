/**
 * The webhook benchmark: a local receiver on loopback, Postgres, Redis and
 * one worker process (`signaltag worker`).
 *
 *   npm run bench:webhooks -- [--entities 100000] [--trials 100] [--repeats 3] [--max-in-flight N] [--json]
 *
 * - outbox cost: the run of a rule that tags --entities users, without a
 *   subscription and with one (its deliveries written in the run's
 *   statement), alternated --repeats times; the medians and their ratio;
 * - throughput: the worker sends those deliveries; deliveries/s from the
 *   run's commit to the last one received;
 * - latency: a tag added by hand, until the receiver has its delivery;
 *   p50/p95 over --trials changes, the worker idle between them.
 *
 * The receiver answers 200 at once and does not verify signatures (the
 * tests do), so the figures are signaltag's. Load average is recorded at the
 * start and the end: on a shared 2-core machine it moves every figure.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
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
import { DEFAULT_MAX_IN_FLIGHT } from "../src/webhooks/subscriptions.ts";
import { freshDatabase, parseArgs } from "./scratch.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs(process.argv.slice(2));
const entities = Number(args.entities ?? 100_000);
const trials = Number(args.trials ?? 100);
const repeats = Number(args.repeats ?? 3);
/** The subscription's max_in_flight; the product's default when not given. */
const maxInFlight = args["max-in-flight"] === undefined ? undefined : String(args["max-in-flight"]);
const json = args.json === true;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `bench-webhooks-${process.pid}`;
const AS_OF = "2026-03-01T12:00:00Z";
const log = (s: string) => process.stderr.write(`${s}\n`);
const load = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 10) / 10;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function cli(database: Database, env: Record<string, string>, argv: string[]): Promise<string> {
  let out = "";
  let err = "";
  const ctx = createContext({
    config: loadConfig(env),
    database,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  const code = await main(argv, ctx);
  if (code !== 0) throw new Error(`signaltag ${argv.join(" ")} failed (${code}): ${err}`);
  return out;
}

/** Arrival time of each request by entity id, and a count. */
const arrivals = new Map<string, number>();
let received = 0;
let lastArrival = 0;
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const now = performance.now();
    received++;
    lastArrival = now;
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (body.data?.entityId) arrivals.set(`${body.type} ${body.data.entityId}`, now);
    res.writeHead(200).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

const rulesDir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-bench-webhooks-"));
fs.writeFileSync(
  path.join(rulesDir, "everyone.json"),
  JSON.stringify({
    id: "everyone",
    name: "Everyone",
    tag: "everyone",
    target: "user",
    enabled: true,
    conditions: { all: [{ fact: "daysSinceCreated", operator: "greaterThanInclusive", value: 0 }] },
  }),
);

const loadAtStart = load();
const scratch = await freshDatabase("signaltag_bench_webhooks");
const database = await openPostgres(scratch.url, { max: 4 });
const env: Record<string, string> = {
  DATABASE_URL: scratch.url,
  REDIS_URL: redisUrl,
  SIGNALTAG_RULES_DIR: rulesDir,
  SIGNALTAG_QUEUE_PREFIX: prefix,
  SIGNALTAG_LOG_LEVEL: "warn",
};
let worker: ChildProcess | undefined;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function reset(): Promise<void> {
  await database.db.execute(sql`truncate claims, tag_events, rule_runs, webhook_deliveries`);
  await database.db.execute(sql`vacuum analyze claims`);
  await database.db.execute(sql`vacuum analyze tag_events`);
}

/**
 * CPU seconds used so far by the Postgres backends of the scratch database,
 * from /proc (Postgres on this host): on a busy machine a run's wall time
 * moves with the load, its CPU time much less. Null where /proc cannot tell.
 */
async function backendCpuSeconds(): Promise<number | null> {
  const backends = await rows<{ pid: number }>(
    database.db,
    sql`select pid from pg_stat_activity where datname = current_database()`,
  );
  let seconds = 0;
  for (const { pid } of backends) {
    try {
      // Fields 14 and 15 of /proc/PID/stat (after the command's closing parenthesis: 12 and 13): utime, stime.
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      seconds += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return null;
    }
  }
  return seconds;
}
const CLOCK_TICKS = 100;
const cpuWithout: number[] = [];
const cpuWithOutbox: number[] = [];

async function timedRun(cpu: number[]): Promise<number> {
  const cpuBefore = await backendCpuSeconds();
  const start = performance.now();
  await cli(database, env, ["run", "--as-of", AS_OF]);
  const seconds = (performance.now() - start) / 1000;
  const cpuAfter = await backendCpuSeconds();
  if (cpuBefore !== null && cpuAfter !== null) cpu.push(Math.round((cpuAfter - cpuBefore) * 100) / 100);
  return seconds;
}

try {
  await migrate(database);
  await database.db.execute(
    sql`insert into accounts (id, name, provisioned_at) values ('acc-1', 'Account 1', '2025-01-01')`,
  );
  await database.db.execute(sql`
    insert into users (id, account_id, email, name, created_at)
    select 'u' || lpad(n::text, 7, '0'), 'acc-1', null, null, '2025-01-01'::timestamptz
    from generate_series(1, ${entities}) n`);
  await database.db.execute(sql`analyze`);
  await cli(database, env, ["rules", "validate"]);

  log(`outbox cost: a run tagging ${entities} users, without and with a subscription, ${repeats} times each`);
  const without: number[] = [];
  const withOutbox: number[] = [];
  let subscriptionId = "";
  for (let i = 0; i < repeats; i++) {
    await database.db.execute(sql`truncate webhook_subscriptions`);
    await reset();
    without.push(await timedRun(cpuWithout));
    const out = await cli(database, env, [
      "webhooks",
      "add",
      "--url",
      receiverUrl,
      ...(maxInFlight ? ["--max-in-flight", maxInFlight] : []),
    ]);
    subscriptionId = /^id (\d+)$/m.exec(out)![1]!;
    // No worker runs yet: the deliveries stay in the outbox, to be counted.
    await reset();
    withOutbox.push(await timedRun(cpuWithOutbox));
    const [{ n }] = (await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from webhook_deliveries`,
    )) as [{ n: number }];
    if (n !== entities) throw new Error(`expected ${entities} deliveries, found ${n}`);
    log(`  run ${i + 1}: ${without.at(-1)!.toFixed(2)} s without, ${withOutbox.at(-1)!.toFixed(2)} s with`);
  }
  const outboxShare = median(withOutbox) / median(without) - 1;
  const outboxCpuShare =
    cpuWithout.length === repeats && cpuWithOutbox.length === repeats
      ? Math.round((median(cpuWithOutbox) / median(cpuWithout) - 1) * 1000) / 1000
      : null;

  log(`throughput: one worker sends ${entities} deliveries`);
  await reset();
  worker = spawn(process.execPath, [path.join(root, "bin/signaltag.js"), "worker"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    worker!.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(" ready: ")) resolve();
    });
    worker!.on("exit", (code) => reject(new Error(`worker exited (${code}):\n${out}`)));
  });
  worker.stdout?.removeAllListeners("data");
  worker.stdout?.resume();
  received = 0;
  const runStart = performance.now();
  await cli(database, env, ["run", "--as-of", AS_OF]);
  const committed = performance.now();
  await until("every delivery received", () => received >= entities);
  const sendSeconds = (lastArrival - committed) / 1000;
  const perSecond = Math.round(entities / sendSeconds);
  log(
    `  ${perSecond} deliveries/s (${sendSeconds.toFixed(1)} s after a ${((committed - runStart) / 1000).toFixed(1)} s run)`,
  );

  log(`latency: ${trials} tags added by hand`);
  await until("the outbox to settle", async () => {
    const [r] = await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from webhook_deliveries where status = 'pending'`,
    );
    return r!.n === 0;
  });
  const latencies: number[] = [];
  for (let i = 1; i <= trials; i++) {
    const id = `u${String(i).padStart(7, "0")}`;
    const start = performance.now();
    await cli(database, env, ["tag", "add", "user", id, "vip"]);
    await until(`the delivery for ${id}`, () => (arrivals.get(`tag.added ${id}`) ?? 0) > start, 60_000);
    latencies.push(arrivals.get(`tag.added ${id}`)! - start);
    arrivals.delete(`tag.added ${id}`);
  }
  const sorted = latencies.sort((a, b) => a - b);
  const result = {
    entities,
    maxInFlight: maxInFlight ? Number(maxInFlight) : DEFAULT_MAX_IN_FLIGHT,
    runSecondsWithout: without,
    runSecondsWithOutbox: withOutbox,
    outboxAddedShare: Math.round(outboxShare * 1000) / 1000,
    runCpuSecondsWithout: cpuWithout,
    runCpuSecondsWithOutbox: cpuWithOutbox,
    outboxAddedCpuShare: outboxCpuShare,
    deliveriesPerSecond: perSecond,
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: percentile(sorted, 100) },
    loadAverage: { start: loadAtStart, end: load() },
    subscriptionId: Number(subscriptionId),
  };
  log(
    `outbox adds ${(outboxShare * 100).toFixed(1)} % to the run (Postgres CPU: ${outboxCpuShare === null ? "not measured" : `${(outboxCpuShare * 100).toFixed(1)} %`}); ${perSecond} deliveries/s; change -> received p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms; load ${loadAtStart.join(" ")} -> ${result.loadAverage.end.join(" ")}`,
  );
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  if (worker && worker.exitCode === null) {
    worker.kill("SIGTERM");
    await new Promise((r) => worker!.once("exit", r));
  }
  await database.close();
  receiver.closeAllConnections();
  receiver.close();
  const redis = new Redis(redisUrl);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
  await redis.quit();
  await scratch.drop();
}
