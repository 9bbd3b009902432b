import { sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { loadConfig } from "../../src/config.ts";
import { openPostgres, rows } from "../../src/db/client.ts";
import { isConnectionLoss } from "../../src/db/connection-errors.ts";
import { inTransaction } from "../../src/db/transaction.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { adminUrl } from "../helpers/postgres-urls.ts";
import { waitFor } from "../helpers/queue.ts";

/**
 * What a Postgres restart does to one connection, made deterministic: the
 * server ends the backend of a transaction in progress. Unguarded, postgres.js
 * 3.4.9 threw from a timer on the ROLLBACK that followed (porsager/postgres
 * #1208), ending the process, and put the dead connection back among the open
 * ones, where every later query failed. scripts/patch-postgres.mjs guards both.
 */
describe.skipIf(testBackend() !== "postgres" || backendUnavailable())(
  "a connection lost mid-transaction",
  () => {
    const t = useTestDatabase();

    it("fails the transaction with a connection error, and the pool serves the next queries", async () => {
      const killer = postgres(adminUrl(), { max: 1, onnotice: () => {} });
      try {
        for (let round = 0; round < 3; round++) {
          const failed = await inTransaction(t.database.db, async (tx) => {
            const [me] = await rows<{ pid: number }>(tx, sql`select pg_backend_pid() as pid`);
            await killer`select pg_terminate_backend(${me!.pid})`;
            await rows(tx, sql`select 1`);
          }).then(
            () => undefined,
            (err: unknown) => err,
          );
          expect(isConnectionLoss(failed), String(failed)).toBe(true);
          // A query racing the close may still fail; soon every connection must serve again. More
          // queries at once than the pool has connections, so a dead one kept among them would show.
          const answers = await waitFor(
            "the pool to serve every query again",
            () =>
              Promise.all(
                Array.from({ length: 25 }, (_, i) =>
                  rows<{ n: number }>(t.database.db, sql`select ${i}::int as n`),
                ),
              ),
            { timeoutMs: 10_000 },
          );
          expect(answers.map((r) => r[0]?.n)).toEqual(Array.from({ length: 25 }, (_, i) => i));
        }
      } finally {
        await killer.end({ timeout: 5 });
      }
    });

    it("makes the API answer 503 database_unavailable, without SQL, when the database is gone", async () => {
      const { key } = await createApiKey(t.database.db, { name: "viewer", role: "viewer" });
      const database = await openPostgres(t.url!, { max: 2 });
      const app = await buildServer({ database, config: loadConfig({}), logger: false });
      try {
        await app.ready();
        await database.close();
        const res = await app.inject({
          method: "GET",
          url: "/v1/tags",
          headers: { authorization: `Bearer ${key}` },
        });
        expect(res.statusCode).toBe(503);
        expect(res.json()).toEqual({
          error: {
            code: "database_unavailable",
            message: "the database is not answering (restarting or unreachable); try again in a moment",
          },
        });
        expect(res.headers["retry-after"]).toBe("1");
      } finally {
        await app.close();
      }
    });
  },
);
