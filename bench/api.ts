/**
 * The HTTP API benchmark: 200 connections apply and remove manual tags on
 * random users for 30 s through `signaltag serve` on Postgres, then checks
 * that the claims and the history agree exactly with the requests that
 * succeeded: per (user, tag), one `added` event per request that answered
 * changed=true, one `removed` event per removal that did, strictly
 * alternating, and the claim present exactly when the last event added it.
 *
 *   npm run bench:api -- [--connections 200] [--duration 30] [--users 500] [--tags 4] [--log-level warn]
 *                        [--server-log FILE] [--json] [--keep]
 *
 * The server runs in its own process. Requests that change tags are sent for
 * `--duration` seconds; for two more seconds each connection sends only
 * GET /health, so no tagging request is cut off when the load stops and every
 * change in the database has an answered request. Throughput and latencies are
 * of the tagging requests only. Runs on a scratch database on the local
 * Postgres (BENCH_POSTGRES_URL overrides the server), dropped at the end
 * unless --keep. With --json the last line is one JSON object.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { sql } from "drizzle-orm";
import { openPostgres, rows } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { createApiKey } from "../src/keys/keys.ts";
import { freshDatabase, parseArgs } from "./scratch.ts";

const args = parseArgs(process.argv.slice(2));
const connections = Number(args.connections ?? 200);
const duration = Number(args.duration ?? 30);
const users = Number(args.users ?? 500);
const tagCount = Number(args.tags ?? 4);
const logLevel = String(args["log-level"] ?? "warn");
const serverLog = typeof args["server-log"] === "string" ? args["server-log"] : undefined;
const json = args.json === true;
const keep = args.keep === true;
const DRAIN_SECONDS = 2;
const log = (s: string) => process.stderr.write(`${s}\n`);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

for (const [name, value] of Object.entries({ connections, duration, users, tags: tagCount })) {
  if (!Number.isInteger(value) || value < 1) {
    log(`--${name} must be a whole number of at least 1`);
    process.exit(2);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startServer(databaseUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [path.join(root, "bin/signaltag.js"), "serve", "--port", String(port)],
    {
      cwd: root,
      env: { ...process.env, DATABASE_URL: databaseUrl, SIGNALTAG_LOG_LEVEL: logLevel, REDIS_URL: "" },
      stdio: ["ignore", serverLog ? fs.openSync(serverLog, "w") : "ignore", "inherit"],
    },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`signaltag serve exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("signaltag serve did not answer /health within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Op {
  kind: "add" | "remove";
  user: string;
  tag: string;
  started: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const dbName = "signaltag_bench_api";
const scratch = await freshDatabase(dbName);
const databaseUrl = scratch.url;
const database = await openPostgres(databaseUrl, { max: 2 });
let server: ChildProcess | undefined;
try {
  await migrate(database);
  await database.db.execute(sql`
    insert into accounts (id, name, provisioned_at)
    select 'acc-' || i, 'Account ' || i, '2025-01-01T00:00:00Z'::timestamptz from generate_series(1, ${Math.ceil(users / 10)}) i`);
  await database.db.execute(sql`
    insert into users (id, account_id, email, created_at)
    select 'u' || i, 'acc-' || (1 + (i - 1) / 10), 'u' || i || '@example.com', '2025-01-01T00:00:00Z'::timestamptz
    from generate_series(1, ${users}) i`);
  const { key } = await createApiKey(database.db, { name: "bench", role: "editor" });
  const tags = Array.from({ length: tagCount }, (_, i) => `bench ${String.fromCharCode(97 + i)}`);
  const port = await freePort();
  log(
    `starting signaltag serve on port ${port} (log level ${logLevel}) over ${users} users, ${tagCount} tags`,
  );
  server = await startServer(databaseUrl, port);

  const ops: (Op & { status: number; changed: boolean | undefined; ms: number })[] = [];
  let inFlight = 0;
  const failures: string[] = [];
  let loadStart = 0;
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  log(
    `load: ${connections} connections, ${duration} s of tagging requests, then ${DRAIN_SECONDS} s of /health`,
  );
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: duration + DRAIN_SECONDS,
    requests: [
      {
        setupRequest: (request, context) => {
          const ctx = context as { op?: Op };
          if (loadStart === 0) loadStart = performance.now();
          if (performance.now() - loadStart > duration * 1000) {
            ctx.op = undefined;
            return { ...request, method: "GET", path: "/health", headers: {}, body: undefined };
          }
          const user = `u${1 + Math.floor(Math.random() * users)}`;
          const tag = tags[Math.floor(Math.random() * tags.length)]!;
          const kind = Math.random() < 0.5 ? "add" : "remove";
          ctx.op = { kind, user, tag, started: performance.now() };
          inFlight++;
          return kind === "add"
            ? {
                ...request,
                method: "POST",
                path: `/v1/users/${user}/tags`,
                headers,
                body: JSON.stringify({ tag }),
              }
            : {
                ...request,
                method: "DELETE",
                path: `/v1/users/${user}/tags/${encodeURIComponent(tag)}`,
                headers: { authorization: headers.authorization },
                body: undefined,
              };
        },
        onResponse: (status, body, context) => {
          const ctx = context as { op?: Op };
          const op = ctx.op;
          if (!op) return;
          ctx.op = undefined;
          inFlight--;
          let changed: boolean | undefined;
          try {
            changed = (JSON.parse(body) as { changed?: boolean }).changed;
          } catch {
            changed = undefined;
          }
          ops.push({ ...op, status, changed, ms: performance.now() - op.started });
          if (status !== 200 && failures.length < 5)
            failures.push(`${status} ${op.kind} ${op.user} ${op.tag}: ${body.slice(0, 300)}`);
        },
      },
    ],
  });

  const ok = ops.filter((o) => o.status === 200);
  const failed = ops.length - ok.length;
  const latencies = ops.map((o) => o.ms).sort((a, b) => a - b);
  const throughput = ops.length / duration;

  // Every answered request against the history and the claims.
  const expected = new Map<string, { added: number; removed: number }>();
  for (const o of ok) {
    const k = `${o.user}\u0000${o.tag}`;
    const e = expected.get(k) ?? { added: 0, removed: 0 };
    if (o.changed && o.kind === "add") e.added++;
    if (o.changed && o.kind === "remove") e.removed++;
    expected.set(k, e);
  }
  const events = await rows<{
    entity_id: string;
    tag: string;
    action: string;
    source: string;
    membership_changed: boolean;
  }>(
    database.db,
    sql`select e.entity_id, t.name as tag, e.action, e.source, e.membership_changed
        from tag_events e join tags t on t.id = e.tag_id order by e.id`,
  );
  const claims = await rows<{ entity_id: string; tag: string; source: string }>(
    database.db,
    sql`select c.entity_id, t.name as tag, c.source from claims c join tags t on t.id = c.tag_id`,
  );
  const problems: string[] = [];
  const seen = new Map<string, { added: number; removed: number; last?: string }>();
  for (const e of events) {
    const k = `${e.entity_id}\u0000${e.tag}`;
    const s = seen.get(k) ?? { added: 0, removed: 0 };
    if (e.source !== "manual" || !e.membership_changed)
      problems.push(`unexpected event ${JSON.stringify(e)}`);
    if (s.last === e.action || (s.last === undefined && e.action === "removed")) {
      problems.push(`${e.entity_id} / ${e.tag}: ${e.action} twice in a row`);
    }
    s.last = e.action;
    if (e.action === "added") s.added++;
    else s.removed++;
    seen.set(k, s);
  }
  const claimed = new Set(claims.map((c) => `${c.entity_id}\u0000${c.tag}`));
  for (const k of new Set([...expected.keys(), ...seen.keys()])) {
    const e = expected.get(k) ?? { added: 0, removed: 0 };
    const s = seen.get(k) ?? { added: 0, removed: 0 };
    const label = k.replace("\u0000", " / ");
    if (e.added !== s.added)
      problems.push(`${label}: ${e.added} adds answered changed, ${s.added} added events`);
    if (e.removed !== s.removed)
      problems.push(`${label}: ${e.removed} removals answered changed, ${s.removed} removed events`);
    if ((s.last === "added") !== claimed.has(k)) problems.push(`${label}: claim and last event disagree`);
  }
  if (claims.some((c) => c.source !== "manual")) problems.push("a claim with a source other than manual");
  if (inFlight !== 0)
    problems.push(`${inFlight} tagging requests were still in flight when the load stopped`);

  const summary = {
    connections,
    durationSeconds: duration,
    users,
    tags: tagCount,
    requests: ops.length,
    throughputPerSecond: Math.round(throughput),
    latencyMs: {
      p50: Number(percentile(latencies, 50).toFixed(1)),
      p90: Number(percentile(latencies, 90).toFixed(1)),
      p99: Number(percentile(latencies, 99).toFixed(1)),
      max: Number((latencies[latencies.length - 1] ?? 0).toFixed(1)),
    },
    non200: failed,
    connectionErrors: result.errors,
    timeouts: result.timeouts,
    changed: {
      added: ok.filter((o) => o.changed && o.kind === "add").length,
      removed: ok.filter((o) => o.changed && o.kind === "remove").length,
    },
    unchanged: ok.filter((o) => o.changed === false).length,
    tagEvents: events.length,
    claims: claims.length,
    consistent: problems.length === 0,
  };
  log(
    `${summary.requests} tagging requests in ${duration} s: ${summary.throughputPerSecond} req/s; latency p50 ${summary.latencyMs.p50} ms, p90 ${summary.latencyMs.p90} ms, p99 ${summary.latencyMs.p99} ms, max ${summary.latencyMs.max} ms`,
  );
  log(
    `non-200: ${failed}, connection errors: ${result.errors}; changed: +${summary.changed.added} -${summary.changed.removed}, unchanged: ${summary.unchanged}; tag events: ${events.length}, claims now: ${claims.length}`,
  );
  for (const f of failures) log(`  non-200: ${f}`);
  log(
    problems.length === 0
      ? "claims and history agree exactly with the requests that succeeded (nothing lost, nothing doubled)"
      : `INCONSISTENT (${problems.length} problems):\n  ${problems.slice(0, 20).join("\n  ")}`,
  );
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  await database.close();
  if (!keep) await scratch.drop();
}
