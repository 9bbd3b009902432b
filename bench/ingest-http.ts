/**
 * The tracking-API benchmark: Segment-style batches into `signaltag serve` on
 * a workspace of 1M users.
 *
 *   npm run bench:ingest-http -- [--duration 60] [--warmup 0] [--connections 16] [--batch 100] [--users 1000000]
 *                                [--accounts 100000] [--reuse] [--tag-trials 20] [--import-events 100000] [--json]
 *
 * - throughput: --connections connections send batches of --batch track
 *   messages (random known users, unique messageIds) for --duration seconds;
 *   messages/s acknowledged (200) and p50/p99 request latency, and the
 *   rate of each 5 s. --warmup first sends the same load for that many
 *   seconds, reported apart and not counted. The server
 *   queues the touched users' re-evaluation on Redis as in production (no
 *   worker runs during this phase; the backlog is dropped after it);
 * - tag latency: with one worker running, a new user gets 19 days of activity
 *   over HTTP, then the 20th day's track: the time from that request's 200 to
 *   the `power users` claim being visible, p50/p95 over --tag-trials trials;
 * - against the file path: one day of --import-events events through
 *   `signaltag import events` (a CSV file) and the same events over HTTP
 *   (other messageIds), as events/s and their ratio.
 *
 * The workspace is seeded (deterministically) into its own database,
 * signaltag_bench_ingest_http, so this branch's migrations and events never
 * touch another benchmark's database; --reuse keeps one already seeded.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { openPostgres, rows } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { createApiKey } from "../src/keys/keys.ts";
import { spawnSignaltag, stopProcess, whenReady } from "./processes.ts";
import { benchDatabaseUrl, parseArgs } from "./scratch.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs(process.argv.slice(2));
const duration = Number(args.duration ?? 60);
/** Seconds of the same load sent before the measured --duration, and not counted. */
const warmup = Number(args.warmup ?? 0);
const connections = Number(args.connections ?? 16);
const batchSize = Number(args.batch ?? 100);
const users = Number(args.users ?? 1_000_000);
const accounts = Number(args.accounts ?? 100_000);
const tagTrials = Number(args["tag-trials"] ?? 20);
const importEvents = Number(args["import-events"] ?? 100_000);
const json = args.json === true;
/** A directory for a CPU profile of the server (node --cpu-prof), written when it stops. */
const cpuProf = typeof args["cpu-prof"] === "string" ? path.resolve(args["cpu-prof"]) : undefined;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `bench-ingest-http-${process.pid}`;
const log = (s: string) => process.stderr.write(`${s}\n`);
const DAY = 86_400_000;
const run = `${Date.now().toString(36)}`;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] ?? Number.NaN) * 10) / 10;
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

async function start(
  command: string[],
  env: Record<string, string>,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; output: () => string }> {
  const started = spawnSignaltag(command, env, nodeArgs);
  await whenReady(started, () => ready.test(started.output()));
  return started;
}

const stop = stopProcess;

async function main() {
  const url = await benchDatabaseUrl("signaltag_bench_ingest_http");
  const database = await openPostgres(url, { max: 4 });
  await migrate(database);
  const db = database.db;
  const [existing] = await rows<{ users: number; accounts: number }>(
    db,
    sql`select (select count(*) from users)::int as users, (select count(*) from accounts)::int as accounts`,
  );
  // The trial users of earlier runs stay: a reused workspace has at least the seeded counts.
  if (!(args.reuse && Number(existing?.users) >= users && Number(existing?.accounts) >= accounts)) {
    log(`seeding ${users} users, ${accounts} accounts (child process)...`);
    const seeded = spawnSync(
      process.execPath,
      [
        path.join(root, "bin/signaltag.js"),
        "seed",
        "--users",
        String(users),
        "--accounts",
        String(accounts),
        "--replace",
      ],
      { env: { ...process.env, DATABASE_URL: url }, stdio: ["ignore", "inherit", "inherit"] },
    );
    if (seeded.status !== 0) throw new Error(`seed failed with exit code ${seeded.status}`);
  }
  await db.execute(sql`truncate ingest_waiting`);
  const sample = (
    await rows<{ id: string }>(db, sql`select id from users tablesample system (10) limit 100000`)
  ).map((r) => r.id);
  const [someAccount] = await rows<{ id: string }>(db, sql`select id from accounts limit 1`);
  const { key } = await createApiKey(db, { name: `bench-${run}`, role: "ingest" });
  const auth = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
  const rulesDir = rulesWithoutSchedules();
  const env = {
    DATABASE_URL: url,
    REDIS_URL: redisUrl,
    SIGNALTAG_QUEUE_PREFIX: prefix,
    SIGNALTAG_RULES_DIR: rulesDir,
    SIGNALTAG_LOG_LEVEL: "info",
  };
  const started0 = await start(
    ["serve", "--port", "0", "--host", "127.0.0.1"],
    env,
    /listening at http/,
    cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${cpuProf}`] : [],
  );
  const server = started0.child;
  const serverUrl = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(started0.output())![1]!;
  const post = (body: unknown) =>
    fetch(`${serverUrl}/v1/batch`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  // Throughput.
  const load = os.loadavg();
  log(
    `throughput: ${connections} connections, batches of ${batchSize}, ${duration} s (load ${load.map((l) => l.toFixed(2)).join(" ")})`,
  );
  let seq = 0;
  /** Sends for `seconds`; the requests' latencies, and messages acknowledged per 5 s. */
  const send = async (seconds: number) => {
    const latencies: number[] = [];
    const per5s: number[] = [];
    let acked = 0;
    let failed = 0;
    const t0 = performance.now();
    const started = new Map<object, number>();
    const result = await autocannon({
      url: serverUrl,
      connections,
      duration: seconds,
      requests: [
        {
          setupRequest: (request, context) => {
            started.set(context as object, performance.now());
            const now = Date.now();
            const parts: string[] = [];
            for (let i = 0; i < batchSize; i++) {
              const user = sample[(seq * 7919 + i * 104729) % sample.length]!;
              parts.push(
                `{"type":"track","userId":${JSON.stringify(user)},"event":"bench viewed","messageId":"h${run}-${seq}-${i}","timestamp":"${new Date(now - (i % 3600) * 1000).toISOString()}","properties":{"module":"bench"}}`,
              );
            }
            seq++;
            return {
              ...request,
              method: "POST",
              path: "/v1/batch",
              headers: { authorization: auth, "content-type": "application/json" },
              body: `{"batch":[${parts.join(",")}],"sentAt":"${new Date(now).toISOString()}"}`,
            };
          },
          onResponse: (status, _body, context) => {
            const end = performance.now();
            const t = started.get(context as object);
            if (t !== undefined) latencies.push(end - t);
            if (status === 200) {
              acked += batchSize;
              const slot = Math.floor((end - t0) / 5000);
              per5s[slot] = (per5s[slot] ?? 0) + batchSize;
            } else failed++;
          },
        },
      ],
    });
    latencies.sort((a, b) => a - b);
    return {
      acked,
      messagesPerSecond: Math.round(acked / seconds),
      requestP50Ms: percentile(latencies, 50),
      requestP99Ms: percentile(latencies, 99),
      requestsFailed: failed + result.errors + result.timeouts,
      messagesPerSecondBy5s: Array.from(per5s, (n) => Math.round((n ?? 0) / 5)),
    };
  };
  let warmedUp = 0;
  if (warmup > 0) {
    const { acked: warmAcked, ...warm } = await send(warmup);
    warmedUp = warmAcked;
    log(`  warm-up (${warmup} s, not counted): ${JSON.stringify(warm)}`);
  }
  const { acked: measured, ...sent } = await send(duration);
  const throughput = {
    ...sent,
    loadBefore: load.map((l) => Number(l.toFixed(2))),
    loadAfter: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  log(`  ${JSON.stringify(throughput)}`);
  const acked = warmedUp + measured;
  const [stored] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from activity_events where event_id like ${`h${run}-%`}`,
  );
  log(`  stored ${stored?.n} of ${acked} acknowledged messages`);

  // The re-evaluation backlog of the throughput phase is not what the tag latency measures.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const dropBacklog = async () => {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  };
  await dropBacklog();

  // Tag latency with one worker.
  const worker = (await start(["worker"], env, / ready: /)).child;
  const tagLatencies: number[] = [];
  for (let trial = 0; trial < tagTrials; trial++) {
    const user = `bench-${run}-t${trial}`;
    const now = Date.now();
    const history = Array.from({ length: 19 }, (_, d) => ({
      type: "track",
      userId: user,
      event: "login",
      messageId: `t${run}-${trial}-${d}`,
      timestamp: new Date(now - (d + 1) * DAY).toISOString(),
    }));
    const setup = await post({
      batch: [
        { type: "identify", userId: user, context: { groupId: someAccount!.id }, traits: {} },
        ...history,
      ],
    });
    if (setup.status !== 200) throw new Error(`setup batch answered ${setup.status}: ${await setup.text()}`);
    // Let the 19-day user's own re-evaluation pass first (a benchmark may wait a fixed time; tests may not).
    await new Promise((r) => setTimeout(r, 1500));
    const res = await post({
      batch: [{ type: "track", userId: user, event: "login", messageId: `t${run}-${trial}-today` }],
    });
    const ackedAt = performance.now();
    if (res.status !== 200) throw new Error(`trial answered ${res.status}`);
    for (;;) {
      const [c] = await rows<{ n: number }>(
        db,
        sql`select count(*)::int as n from claims c join tags g on g.id = c.tag_id
            where g.name = 'power users' and c.entity_type = 'user' and c.entity_id = ${user}`,
      );
      if (Number(c?.n) > 0) break;
      if (performance.now() - ackedAt > 30_000) throw new Error(`no tag for ${user} within 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    tagLatencies.push(performance.now() - ackedAt);
  }
  tagLatencies.sort((a, b) => a - b);
  const tag = { trials: tagTrials, p50Ms: percentile(tagLatencies, 50), p95Ms: percentile(tagLatencies, 95) };
  log(`tag latency: ${JSON.stringify(tag)}`);
  await stop(worker);
  await dropBacklog();

  // The same day of events through a file import and over HTTP.
  const day = new Date(Date.now() - 2 * DAY);
  const events = Array.from({ length: importEvents }, (_, i) => ({
    user: sample[(i * 7919) % sample.length]!,
    at: new Date(day.getTime() + (i % 86_400) * 1000).toISOString(),
  }));
  const file = path.join(os.tmpdir(), `signaltag-bench-day-${run}.csv`);
  fs.writeFileSync(
    file,
    `user_id,activity,module,occurred_at,event_id\n${events.map((e, i) => `${e.user},bench day,bench,${e.at},f${run}-${i}`).join("\n")}\n`,
  );
  const t0 = performance.now();
  const imported = spawnSync(
    process.execPath,
    [path.join(root, "bin/signaltag.js"), "import", "events", file],
    {
      env: { ...process.env, DATABASE_URL: url, REDIS_URL: "" },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  if (imported.status !== 0) throw new Error(`import failed with ${imported.status}`);
  const importSeconds = (performance.now() - t0) / 1000;
  fs.rmSync(file);
  const t1 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (;;) {
        const from = next;
        next += batchSize;
        if (from >= events.length) return;
        const batch = events.slice(from, from + batchSize).map((e, i) => ({
          type: "track",
          userId: e.user,
          event: "bench day",
          messageId: `d${run}-${from + i}`,
          timestamp: e.at,
          properties: { module: "bench" },
        }));
        const res = await post({ batch });
        if (res.status !== 200) throw new Error(`day batch answered ${res.status}`);
      }
    }),
  );
  const httpSeconds = (performance.now() - t1) / 1000;
  const versusImport = {
    events: importEvents,
    importEventsPerSecond: Math.round(importEvents / importSeconds),
    httpEventsPerSecond: Math.round(importEvents / httpSeconds),
    httpToImport: Number((importSeconds / httpSeconds).toFixed(3)),
  };
  log(`versus import: ${JSON.stringify(versusImport)}`);

  await stop(server);
  await dropBacklog();
  await redis.quit();
  await database.close();
  const out = { users, accounts, connections, batch: batchSize, duration, ...throughput, tag, versusImport };
  if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
