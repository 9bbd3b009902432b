/**
 * One ingestion commit, timed on its own: the transaction `signaltag serve`
 * runs for a group of track messages (src/ingest/write.ts), with no HTTP,
 * client or queue around it, on the tracking-API benchmark's database.
 *
 *   npx tsx bench/ingest-commit.ts [--events 1600] [--rounds 5] [--existing] [--new-keys] [--explain]
 *
 * Each round stores --events track messages of today for random users (of a
 * fresh 1% sample: mostly new rollup keys) or, with --existing, of 3,000
 * fixed users (after the first round, mostly keys the day already has);
 * --new-keys names the activity after the round, so every key is new.
 * --explain prints every statement's plan with buffers, the triggers'
 * included (auto_explain on this connection): slower, and per-row timing
 * inflates cheap nodes, so compare the plain timings, round against round.
 * Run bench:ingest-http once first (it seeds and migrates the database).
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Database } from "../src/db/client.ts";
import { registerPool } from "../src/db/connections.ts";
import { mapMessage } from "../src/ingest/mapping.ts";
import { type Accepted, writeMessages } from "../src/ingest/write.ts";
import { benchDatabaseUrl, parseArgs } from "./scratch.ts";

const args = parseArgs(process.argv.slice(2));
const events = Number(args.events ?? 1600);
const rounds = Number(args.rounds ?? 5);
const existing = args.existing === true;
const explain = args.explain === true;
const newKeys = args["new-keys"] === true;

async function main() {
  const url = await benchDatabaseUrl("signaltag_bench_ingest_http");
  const client = postgres(url, {
    max: 1,
    connection: { TimeZone: "UTC" },
    onnotice: (n) => process.stdout.write(`${n.message}\n`),
  });
  const db = drizzle(client);
  registerPool(db, client);
  const users = (
    existing
      ? await client`select id from users where id >= 'usr-0123000' order by id limit 3000`
      : await client`select id from users tablesample system (1) limit 20000`
  ).map((r) => String(r.id));
  if (explain) {
    await client.unsafe(`load 'auto_explain'; set auto_explain.log_min_duration = 0;
      set auto_explain.log_analyze = on; set auto_explain.log_buffers = on;
      set auto_explain.log_nested_statements = on; set auto_explain.log_triggers = on;
      set client_min_messages = log`);
  }
  const run = Date.now().toString(36);
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const now = Date.now();
    const items: Accepted[] = [];
    for (let i = 0; i < events; i++) {
      const raw = {
        type: "track",
        userId: users[Math.floor(Math.random() * users.length)],
        event: newKeys ? `bench viewed ${run}-${round}` : "bench viewed",
        messageId: `c${run}-${round}-${i}`,
        timestamp: new Date(now - (i % 3600) * 1000).toISOString(),
        properties: { module: "bench" },
      };
      const mapped = mapMessage(raw, i, { receivedAt: now, sentAt: new Date(now).toISOString() });
      if (!mapped.ok) throw new Error(mapped.problem.message);
      items.push({ mapped: mapped.mapped, receivedAt: new Date(now).toISOString() });
    }
    const t0 = performance.now();
    const outcome = await writeMessages({ kind: "postgres", db } as unknown as Database, items, "UTC");
    const ms = performance.now() - t0;
    times.push(ms);
    process.stderr.write(
      `round ${round}: ${events} events in ${ms.toFixed(1)} ms (${outcome.eventsStored} stored)\n`,
    );
  }
  await client.end();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  process.stdout.write(
    `${JSON.stringify({ events, rounds, existing, newKeys, medianMs: Math.round(median), eventsPerSecond: Math.round((events / median) * 1000) })}\n`,
  );
}

await main();
