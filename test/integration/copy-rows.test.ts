import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

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
});
