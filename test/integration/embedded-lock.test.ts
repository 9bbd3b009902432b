import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createContext } from "../../src/cli/context.ts";
import { main } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config.ts";
import { openPglite } from "../../src/db/client.ts";
import { testBackend } from "../helpers/db.ts";

// The embedded database only exists on the PGlite side; the Postgres project has nothing to test here.
describe.skipIf(testBackend() !== "pglite")("the embedded database", () => {
  it("refuses a second process with one line pointing to DATABASE_URL", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-lock-"));
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      fs.writeFileSync(path.join(dir, "signaltag.lock"), String(holder.pid));
      let stderr = "";
      const ctx = createContext({
        config: loadConfig({ SIGNALTAG_DATA_DIR: dir }),
        stdout: { write: () => true },
        stderr: { write: (s: string) => (stderr += s) },
      });
      const code = await main(["export", "assignments"], ctx);
      expect(code).not.toBe(0);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toContain(`in use by process ${holder.pid}`);
      expect(stderr).toContain("DATABASE_URL");
    } finally {
      holder.kill();
    }
  });

  it("takes over a lock left by a process that no longer runs, and keeps data between opens", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-lock-"));
    fs.writeFileSync(path.join(dir, "signaltag.lock"), "999999999");
    const first = await openPglite(dir);
    await expect(openPglite(dir)).rejects.toThrow(/already open in this process/);
    await first.db.execute(sql.raw("create table kept (x int)"));
    await first.close();
    expect(fs.existsSync(path.join(dir, "signaltag.lock"))).toBe(false);
    const second = await openPglite(dir);
    await second.db.execute(sql.raw("insert into kept values (1)"));
    await second.close();
  });
});
