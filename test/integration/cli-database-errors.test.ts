import { randomBytes } from "node:crypto";
import net from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCliWithEnv } from "../helpers/cli.ts";
import { backendUnavailable, testBackend } from "../helpers/db.ts";
import { adminUrl, databaseUrl } from "../helpers/postgres-urls.ts";

/** Commands that open the database, each a different path into it. */
const commands: [string, string[]][] = [
  ["status", ["status"]],
  ["tags list", ["tags", "list"]],
  ["export assignments", ["export", "assignments"]],
  ["segment users --count", ["segment", "users", "--count"]],
];
const andMigrate: [string, string[]][] = [...commands, ["db migrate", ["db", "migrate"]]];

function expectOneLine(result: CliResult, pattern: RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toMatch(/\b(select|from|Failed query)\b/i);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(testBackend() !== "postgres" || backendUnavailable())("database errors on Postgres", () => {
  const empty = `signaltag_test_empty_${randomBytes(6).toString("hex")}`;
  const admin = () => postgres(adminUrl(), { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    const sql = admin();
    try {
      await sql.unsafe(`CREATE DATABASE ${empty}`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
  afterAll(async () => {
    const sql = admin();
    try {
      await sql.unsafe(`DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it.each(commands)(
    "says to run `signaltag db migrate` when the database is not migrated (%s)",
    async (_, argv) => {
      const result = await runCliWithEnv(argv, { DATABASE_URL: databaseUrl(empty) });
      expectOneLine(result, new RegExp(`"${empty}".*not migrated.*run \`signaltag db migrate\` first`));
    },
  );

  it.each(andMigrate)("names a database that does not exist and how to create it (%s)", async (_, argv) => {
    const missing = `signaltag_test_missing_${randomBytes(6).toString("hex")}`;
    const result = await runCliWithEnv(argv, { DATABASE_URL: databaseUrl(missing) });
    expectOneLine(result, new RegExp(`database "${missing}" does not exist.*createdb .*${missing}`));
  });

  it.each(andMigrate)("names the host and port when nothing listens there (%s)", async (_, argv) => {
    const port = await freePort();
    const result = await runCliWithEnv(argv, {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/signaltag`,
    });
    expectOneLine(
      result,
      new RegExp(`cannot connect to Postgres at 127\\.0\\.0\\.1:${port}.*connection refused`),
    );
  });
});
