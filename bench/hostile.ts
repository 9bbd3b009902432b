/**
 * `npm run bench:hostile`: hostile input against a running `signaltag serve`
 * and the CLI, counted. The HTTP cases are generated from the server's own
 * OpenAPI document (every path parameter, query parameter and top-level body
 * property of every operation, each replaced in turn by every hostile value),
 * so a route added later is swept too; then tracking messages with hostile
 * fields, raw HTTP that no client library would send, hostile credentials,
 * hostile import and rule files through the CLI, and secrets in settings.
 *
 * Each answer is classed: refused (4xx in the `{error:{code,message}}`
 * shape), accepted (2xx), a 5xx, no answer in time (hang), the server gone
 * (crash), an answer that quotes SQL, a stack frame or the database password
 * (leak), a 4xx in another shape, and a refused input that nevertheless
 * changed the database (partial write: a fingerprint of every table is taken
 * after each case). Goal: 0 of each but refused and accepted.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import postgres from "postgres";
import { type CliCase, cliCases } from "./hostile/cli-cases.ts";
import { type HttpCase, httpCases, ingestCases, type RawCase, rawCases } from "./hostile/http-cases.ts";
import { spawnSignaltag, stopProcess, whenReady } from "./processes.ts";
import { freshDatabase, parseArgs } from "./scratch.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs(process.argv.slice(2));
const timeoutMs = Number(args.timeout ?? 20) * 1000;
const log = (s: string) => process.stderr.write(`${s}\n`);
/** Sent in the database URL; trust authentication ignores it, so it may only ever come back as a leak. */
const PASSWORD = `hostile-pw-${process.pid}`;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const QUEUE_PREFIX = `signaltag-hostile-${process.pid}`;

type Outcome = "refused" | "accepted" | "5xx" | "hang" | "crash" | "leak" | "shape" | "partial";
interface Result {
  group: string;
  name: string;
  outcomes: Outcome[];
  detail: string;
}

/** What no answer may contain: SQL, a stack frame, a driver's wording, the password. */
const LEAKS: [string, RegExp][] = [
  ["SQL", /\b(select|insert into|update|delete from)\b[^"]{0,200}\b(from|values|set|where)\b/i],
  ["drizzle's failed query", /Failed query/i],
  ["a COPY statement", /\bCOPY "?\w+"? \(/],
  ["a stack frame", /\n\s+at \S+ \(|\bat \S+ \((?:node:|file:|\/)|node_modules/],
  ["the database password", new RegExp(PASSWORD)],
  ["a Postgres error code", /\bSQLSTATE\b|\bcode: '\d{5}'/],
];

function leakIn(text: string): string | undefined {
  for (const [what, re] of LEAKS) if (re.test(text)) return what;
  return undefined;
}

function errorShaped(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return typeof parsed.error?.code === "string" && typeof parsed.error.message === "string";
  } catch {
    return false;
  }
}

/** Every table's row count and a hash of its rows, but api_keys (last_used_at moves on every request). */
async function fingerprint(sql: postgres.Sql): Promise<string> {
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'api_keys'
    order by 1`;
  const parts = tables.map(
    (t) =>
      `select '${t.name}' || ':' || count(*) || ':' || coalesce(sum(hashtext(x::text)), 0) as f from "${t.name}" x`,
  );
  const [row] = await sql.unsafe<{ f: string }[]>(
    `select string_agg(f, ' ') as f from (${parts.join(" union all ")}) s`,
  );
  return row?.f ?? "";
}

function cli(command: string[], env: Record<string, string>, input?: string) {
  return spawnSync(process.execPath, [path.join(root, "bin/signaltag.js"), ...command], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: timeoutMs,
    ...(input === undefined ? {} : { input }),
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function startServe(env: Record<string, string>): Promise<ChildProcess> {
  const started = spawnSignaltag(["serve"], env);
  await whenReady(started, async () => {
    try {
      return (await fetch(`http://127.0.0.1:${env.SIGNALTAG_PORT}/health`)).status === 200;
    } catch {
      return false; // not listening yet
    }
  });
  return started.child;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function sendHttp(base: string, c: HttpCase): Promise<{ status: number; body: string } | "hang"> {
  try {
    const res = await fetch(base + c.path, {
      method: c.method,
      headers: c.headers,
      ...(c.body === undefined ? {} : { body: c.body }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    if ((err as Error).name === "TimeoutError") return "hang";
    // The connection closed without an answer: the server refused the bytes (or died; checked apart).
    return { status: 0, body: String((err as Error).message) };
  }
}

function sendRaw(port: number, c: RawCase): Promise<{ status: number; body: string } | "hang"> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("hang");
    }, timeoutMs);
    socket.on("data", (d) => {
      data += d.toString("latin1");
    });
    const done = () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
      const body = data.includes("\r\n\r\n") ? data.slice(data.indexOf("\r\n\r\n") + 4) : data;
      resolve({ status, body });
    };
    socket.on("end", done);
    socket.on("close", done);
    socket.on("error", () => {});
    socket.write(c.bytes, () => {
      // The server answers an error and may keep the connection open: end our side after a moment.
      setTimeout(() => socket.end(), 300);
    });
  });
}

async function main() {
  const port = await freePort();
  const { url, drop } = await freshDatabase("signaltag_bench_hostile");
  const databaseUrl = url.replace("postgres@", `postgres:${PASSWORD}@`);
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    SIGNALTAG_QUEUE_PREFIX: QUEUE_PREFIX,
    SIGNALTAG_PORT: String(port),
    SIGNALTAG_HOST: "127.0.0.1",
    SIGNALTAG_LOG_LEVEL: "fatal",
  };
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const results: Result[] = [];
  let server: ChildProcess | undefined;
  try {
    log("migrating and seeding a small workspace...");
    for (const command of [
      ["db", "migrate"],
      ["seed", "--accounts", "5", "--users", "40", "--days", "14", "--replace"],
      ["run"],
    ]) {
      const r = cli(command, env);
      if (r.status !== 0) throw new Error(`signaltag ${command.join(" ")} failed:\n${r.stderr}`);
    }
    const key = cli(["keys", "create", "--role", "admin", "--name", "hostile-admin"], env).stdout.trim();
    server = await startServe(env);
    const base = `http://127.0.0.1:${port}`;
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as Parameters<typeof httpCases>[0];
    const cases: HttpCase[] = [...httpCases(doc, key), ...ingestCases(key)];
    const raws = rawCases(key);
    log(`${cases.length} HTTP cases, ${raws.length} raw HTTP cases`);
    let before = await fingerprint(sql);

    const record = async (
      group: string,
      name: string,
      answer: { status: number; body: string } | "hang",
      partOfInputStored: (body: string) => boolean,
    ) => {
      const outcomes: Outcome[] = [];
      let detail = "";
      if (server?.exitCode !== null) {
        outcomes.push("crash");
        detail = `serve exited with ${server?.exitCode}`;
        server = await startServe(env);
      } else if (answer === "hang") {
        outcomes.push("hang");
        detail = `no answer in ${timeoutMs / 1000} s`;
      } else {
        const { status, body } = answer;
        const leak = leakIn(body);
        if (leak) {
          outcomes.push("leak");
          detail = `${status}: quotes ${leak}: ${body.slice(0, 160)}`;
        }
        if (status >= 500) {
          outcomes.push("5xx");
          detail ||= `${status}: ${body.slice(0, 160)}`;
        } else if (status >= 200 && status < 300) outcomes.push("accepted");
        else {
          outcomes.push("refused");
          // A closed connection (status 0) is a refusal of bytes that are not HTTP.
          if (status !== 0 && !errorShaped(body) && status !== 404) {
            outcomes.push("shape");
            detail ||= `${status} not in the error shape: ${body.slice(0, 160)}`;
          }
        }
      }
      const after = await fingerprint(sql);
      if (
        outcomes.includes("refused") &&
        answer !== "hang" &&
        after !== before &&
        !partOfInputStored(answer.body)
      ) {
        outcomes.push("partial");
        detail ||= `refused with ${answer.status} but the database changed`;
      }
      before = after;
      results.push({ group, name, outcomes, detail });
    };

    for (const c of cases) {
      await record(c.group, c.name, await sendHttp(base, c), (body) => c.storesPart?.(body) ?? false);
    }
    for (const c of raws) await record("raw HTTP", c.name, await sendRaw(port, c), () => false);

    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-hostile-"));
    const files: CliCase[] = cliCases(workdir, databaseUrl);
    log(`${files.length} CLI cases`);
    for (const c of files) {
      const r = cli(c.command, { ...env, ...c.env });
      const output = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
      const outcomes: Outcome[] = [];
      let detail = "";
      if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
        outcomes.push("hang");
        detail = `no exit in ${timeoutMs / 1000} s`;
      } else if (r.signal) {
        outcomes.push("crash");
        detail = `killed by ${r.signal}`;
      } else if (r.status === 0) outcomes.push("accepted");
      else if (r.status === 1 || r.status === 2 || r.status === 3) outcomes.push("refused");
      else {
        outcomes.push("crash");
        detail = `exit ${r.status}: ${output.slice(0, 160)}`;
      }
      const leak =
        leakIn(output) ?? (c.secret !== undefined && output.includes(c.secret) ? "a secret" : undefined);
      if (leak) {
        outcomes.push("leak");
        detail ||= `quotes ${leak}: ${output.slice(0, 160)}`;
      }
      if (outcomes.includes("refused") && c.named && !c.named.test(output)) {
        outcomes.push("shape");
        detail ||= `does not say where (${c.named}): ${output.trim().slice(0, 160)}`;
      }
      const after = await fingerprint(sql);
      if (outcomes.includes("refused") && after !== before) {
        outcomes.push("partial");
        detail ||= "refused but the database changed";
      }
      before = after;
      results.push({ group: c.group, name: c.name, outcomes, detail });
    }
    fs.rmSync(workdir, { recursive: true, force: true });
  } finally {
    if (server) await stopProcess(server);
    await sql.end({ timeout: 5 });
    await drop();
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const keys = await redis.keys(`${QUEUE_PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
    } catch {
      // Redis was not there: nothing was queued either.
    } finally {
      redis.disconnect();
    }
  }
  report(results);
}

const COLUMNS: Outcome[] = ["refused", "accepted", "5xx", "hang", "crash", "leak", "shape", "partial"];

function report(results: Result[]) {
  const groups = [...new Set(results.map((r) => r.group))];
  const count = (rs: Result[], o: Outcome) => rs.filter((r) => r.outcomes.includes(o)).length;
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  const out = [
    line(["inputs", "tried", ...COLUMNS]),
    line(Array(COLUMNS.length + 2).fill("---")),
    ...groups.map((g) => {
      const rs = results.filter((r) => r.group === g);
      return line([g, rs.length, ...COLUMNS.map((o) => count(rs, o))]);
    }),
    line(["**all**", results.length, ...COLUMNS.map((o) => count(results, o))]),
  ];
  console.log(out.join("\n"));
  const bad = results.filter((r) => r.outcomes.some((o) => !["refused", "accepted"].includes(o)));
  if (bad.length > 0) {
    console.log(`\n${bad.length} inputs with a defect:`);
    for (const r of bad.slice(0, 60))
      console.log(`- [${r.group}] ${r.name}: ${r.outcomes.join(", ")}: ${r.detail}`);
  }
  if (args.json) {
    const totals = Object.fromEntries(COLUMNS.map((o) => [o, count(results, o)]));
    console.log(
      JSON.stringify({ tried: results.length, ...totals, defects: bad.map((r) => `${r.group}: ${r.name}`) }),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
