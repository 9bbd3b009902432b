import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { claimedAfter, decide, wantSql } from "../../src/runs/decide.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";

describe.skipIf(backendUnavailable())("the SQL twin of decide", () => {
  const t = useTestDatabase();

  it("wants the claim exactly where decide gains or keeps it, for every combination", async () => {
    const bools = [false, true];
    for (const matched of bools)
      for (const exitMatched of [undefined, false, true])
        for (const suppressed of bools)
          for (const held of bools) {
            const b = (v: boolean) => sql`${v}::boolean`;
            const [row] = await rows<{ want: boolean }>(
              t.database.db,
              sql`select ${wantSql({
                matched: b(matched),
                exitMatched: exitMatched === undefined ? undefined : b(exitMatched),
                suppressed: b(suppressed),
                held: b(held),
              })} as want`,
            );
            const expected = claimedAfter(decide({ matched, exitMatched, suppressed, held }));
            expect({ matched, exitMatched, suppressed, held, want: row!.want }).toEqual({
              matched,
              exitMatched,
              suppressed,
              held,
              want: expected,
            });
          }
  });
});
