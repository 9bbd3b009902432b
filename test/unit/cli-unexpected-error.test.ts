import { describe, expect, it } from "vitest";
import { createContext } from "../../src/cli/context.ts";
import { main } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config.ts";

/** `tags list` with a database that fails in a way signaltag does not expect. */
async function failing(argv: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const ctx = createContext({
    config: loadConfig(env),
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  const cause = Object.assign(new Error('relation "tags" is locked\ndetail on a second line'), {
    code: "XX999",
  });
  ctx.database = () => Promise.reject(new Error("Failed query: select name from tags\nparams: ", { cause }));
  const code = await main(argv, ctx);
  return { code, stdout, stderr };
}

describe("an unexpected error", () => {
  it("prints one line of what happened and how to see the trace, no stack and no SQL", async () => {
    const result = await failing(["tags", "list"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'signaltag: unexpected error: relation "tags" is locked\n' +
        "(rerun with --verbose, or SIGNALTAG_LOG_LEVEL=debug, to see the stack trace)\n",
    );
  });

  it("prints the stack of the error and its cause with --verbose, before or after the command", async () => {
    for (const argv of [
      ["--verbose", "tags", "list"],
      ["tags", "list", "--verbose"],
    ]) {
      const result = await failing(argv);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^signaltag: unexpected error: relation "tags" is locked\n/);
      expect(result.stderr).toMatch(/^\s+at /m);
      expect(result.stderr).toContain("caused by: Error: relation");
      expect(result.stderr).not.toContain("rerun with --verbose");
    }
  });

  it("prints the stack with SIGNALTAG_LOG_LEVEL=debug", async () => {
    const result = await failing(["tags", "list"], { SIGNALTAG_LOG_LEVEL: "debug" });
    expect(result.stderr).toMatch(/^\s+at /m);
  });
});
