import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { preparedRows } from "../../src/db/prepared.ts";
import { inTransaction, transactionConnection, transactionWithOutcome } from "../../src/db/transaction.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

describe.skipIf(backendUnavailable())("transactions and prepared statements", () => {
  const t = useTestDatabase();
  const postgres = testBackend() === "postgres";

  it("runs a transaction on a connection of its own on Postgres, and nested work joins it", async () => {
    await inTransaction(t.database.db, async (tx) => {
      expect(transactionConnection(tx) !== undefined).toBe(postgres);
      const [outer] = await rows<{ pid: number }>(tx, sql`select pg_backend_pid() as pid`);
      await inTransaction(tx, async (nested) => {
        if (postgres) expect(nested).toBe(tx);
        const [inner] = await rows<{ pid: number }>(nested, sql`select pg_backend_pid() as pid`);
        expect(inner?.pid).toBe(outer?.pid);
      });
    });
  });

  it("reads timestamps as text in a transaction as outside one", async () => {
    const at = sql`select '2024-03-01 12:00:00+00'::timestamptz as at, '2024-03-01'::date as day`;
    const [outside] = await rows<{ at: unknown; day: unknown }>(t.database.db, at);
    await inTransaction(t.database.db, async (tx) => {
      const [inside] = await rows<{ at: unknown; day: unknown }>(tx, at);
      expect(inside).toEqual(outside);
      expect(typeof inside?.at).toBe("string");
      expect(await preparedRows(tx, at)).toEqual([outside]);
    });
  });

  it("prepares a fixed query as a named statement on Postgres, in a transaction or not", async () => {
    const query = (n: number) => sql`select ${n}::int + 1 as next`;
    expect(await preparedRows(t.database.db, query(1))).toEqual([{ next: 2 }]);
    await inTransaction(t.database.db, async (tx) => {
      expect(await preparedRows(tx, query(2))).toEqual([{ next: 3 }]);
      const [prepared] = await rows<{ n: number }>(
        tx,
        sql`select count(*)::int as n from pg_prepared_statements where statement like 'select $1::int + 1%'`,
      );
      expect(prepared?.n).toBe(postgres ? 1 : 0);
    });
  });

  it("commits or rolls back as the function says, and returns its value either way", async () => {
    await t.database.db.execute(sql`create table outcome_probe (v text)`);
    const write = (v: string, commit: boolean) =>
      transactionWithOutcome(t.database.db, async (tx) => {
        await tx.execute(sql`insert into outcome_probe values (${v})`);
        return { value: v, commit };
      });
    expect(await write("kept", true)).toBe("kept");
    expect(await write("dropped", false)).toBe("dropped");
    await expect(
      inTransaction(t.database.db, async (tx) => {
        await tx.execute(sql`insert into outcome_probe values ('failed')`);
        throw new Error("gave up");
      }),
    ).rejects.toThrow("gave up");
    const kept = await rows<{ v: string }>(t.database.db, sql`select v from outcome_probe`);
    expect(kept.map((r) => r.v)).toEqual(["kept"]);
  });
});
