import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { noTagHooks } from "../../src/tags/changes.ts";
import { importTagsFile } from "../../src/tags/file-import.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";

const bin = fileURLToPath(new URL("../../bin/signaltag.js", import.meta.url));
const ACCOUNTS = 4000;

/**
 * Runs the real signaltag into a reader that takes the first line and closes
 * the pipe, as `| head -1` does.
 */
function intoHeadOne(argv: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; signal: string | null; first: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...argv], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let first = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0 && first === "") {
          first = out.slice(0, nl);
          child.stdout.destroy();
        }
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ code, signal, first, stderr }));
    },
  );
}

describe.skipIf(testBackend() !== "postgres" || backendUnavailable())(
  "output into a pipe closed early",
  () => {
    const t = useTestDatabase();

    beforeAll(async () => {
      await t.database.db.execute(sql`
      insert into accounts (id, name, provisioned_at)
      select 'acc-' || g, 'Account ' || g, '2025-01-01T00:00:00Z'::timestamptz from generate_series(1, ${ACCOUNTS}) g`);
      const file = ["account_id,tag##vip,tag##churn risk"];
      for (let i = 1; i <= ACCOUNTS; i++) file.push(`acc-${i},yes,yes`);
      await importTagsFile(t.database.db, file.join("\n"), { source: "tags.csv", actor: "ops" }, noTagHooks);
    });

    // Far more than a pipe's buffer, so the command is still writing when the reader goes.
    it.each([
      ["export assignments", ["export", "assignments"], "entity_type,entity_id,tag,sources"],
      [
        "segment accounts --format csv",
        ["segment", "accounts", "--tagged-with", "vip", "--format", "csv"],
        "id,",
      ],
    ])("%s exits 0 with nothing on stderr", async (_, argv, start) => {
      const result = await intoHeadOne(argv, { DATABASE_URL: t.url ?? "" });
      expect(result.first.startsWith(start)).toBe(true);
      expect(result.stderr).toBe("");
      expect(result.signal).toBeNull();
      expect(result.code).toBe(0);
    });
  },
);
