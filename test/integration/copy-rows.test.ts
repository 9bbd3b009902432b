import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { inTransaction } from "../../src/db/transaction.ts";
import { CopyRefused } from "../../src/errors/index.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

describe.skipIf(backendUnavailable())("bulk loading", () => {
  const t = useTestDatabase();

  it("aborts a load whose source fails, loads nothing of it, and keeps loading afterwards", async () => {
    await t.database.db.execute(sql`create table copy_probe (a text, b text)`);
    async function* failing() {
      yield ["1", "x\ty"];
      throw new Error("source broke");
    }
    await expect(t.database.copyRows("copy_probe", ["a", "b"], failing())).rejects.toThrow("source broke");
    async function* good() {
      yield ["2", "line\nbreak"];
      yield ["3", null];
    }
    expect(await t.database.copyRows("copy_probe", ["a", "b"], good())).toBe(2);
    const loaded = await rows<{ a: string; b: string | null }>(
      t.database.db,
      sql`select a, b from copy_probe order by a`,
    );
    // PGlite loads in batches, so the row before the failure may land; on Postgres the COPY is all or nothing.
    expect(loaded.filter((r) => r.a !== "1")).toEqual([
      { a: "2", b: "line\nbreak" },
      { a: "3", b: null },
    ]);
    if (t.url) expect(loaded.map((r) => r.a)).toEqual(["2", "3"]);
  });

  // The server refuses these rows only once it has them all (the duplicate is
  // the last row), after the end of the data was sent: the case the driver
  // loses (it left the load waiting forever, and its transaction open).
  it.skipIf(testBackend() !== "postgres")(
    "reports a load the server refuses after its last row, in a transaction or not, and loads on",
    async () => {
      await t.database.db.execute(sql`create table copy_keyed (a text primary key, b text)`);
      async function* duplicate() {
        yield ["1", "x"];
        yield ["2", "y"];
        yield ["1", "z"];
      }
      await expect(t.database.copyRows("copy_keyed", ["a", "b"], duplicate())).rejects.toThrow(CopyRefused);
      await expect(
        inTransaction(t.database.db, async (tx) => {
          await t.database.copyRows("copy_keyed", ["a", "b"], duplicate(), tx);
          await tx.execute(sql`insert into copy_keyed values ('after', 'never')`);
        }),
      ).rejects.toThrow(/refused COPY "copy_keyed"/);
      async function* good() {
        yield ["3", "w"];
      }
      await inTransaction(t.database.db, async (tx) => {
        expect(await t.database.copyRows("copy_keyed", ["a", "b"], good(), tx)).toBe(1);
      });
      expect(await t.database.copyRows("copy_keyed", ["a", "b"], (async function* () {})())).toBe(0);
      const loaded = await rows<{ a: string }>(t.database.db, sql`select a from copy_keyed order by a`);
      expect(loaded.map((r) => r.a)).toEqual(["3"]);
    },
  );
});
