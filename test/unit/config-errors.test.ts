import { afterEach, describe, expect, it, vi } from "vitest";
import { createContext } from "../../src/cli/context.ts";
import { parseEntityType } from "../../src/cli/entity-type.ts";
import { main } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config.ts";
import { ConfigError } from "../../src/errors/index.ts";

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("the configuration was accepted");
}

describe("a configuration error", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("says which variable, what it must be, the value and what to do, in one line", () => {
    expect(configError({ SIGNALTAG_PORT: "abc" })).toBe(
      'environment variable SIGNALTAG_PORT must be a whole number from 1 to 65535, not "abc"; correct it, or unset it to use 3000',
    );
    expect(configError({ SIGNALTAG_PARTITION_SIZE: "1.5" })).toBe(
      'environment variable SIGNALTAG_PARTITION_SIZE must be a whole number of at least 1, not "1.5"; correct it, or unset it to use 50000',
    );
    expect(configError({ SIGNALTAG_REMOVAL_GUARD: "2" })).toMatch(
      /^environment variable SIGNALTAG_REMOVAL_GUARD must be a number from 0 to 1, such as 0\.5, not "2"; /,
    );
    expect(configError({ SIGNALTAG_LOG_LEVEL: "loud" })).toMatch(
      /^environment variable SIGNALTAG_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"; correct it, or unset it to use info$/,
    );
    expect(configError({ REDIS_URL: "http://x" })).toMatch(/unset it to run rules inline, without a queue$/);
  });

  it("never repeats a password", () => {
    const message = configError({ DATABASE_URL: "mysql://ops:s3cret@db.example/signaltag" });
    expect(message).not.toContain("s3cret");
    expect(message).toContain('not "mysql://ops:***@db.example/signaltag"');
    expect(message).toContain("unset it to use the embedded database");
  });

  it("still reads whole numbers with spaces around them", () => {
    expect(loadConfig({ SIGNALTAG_PORT: " 8080 " }).port).toBe(8080);
    expect(loadConfig({ SIGNALTAG_REMOVAL_GUARD: "0.25" }).removalGuard).toBe(0.25);
  });

  it("ends a command with that one line on stderr and exit code 2", async () => {
    vi.stubEnv("SIGNALTAG_PORT", "abc");
    let stdout = "";
    let stderr = "";
    const ctx = createContext({
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    expect(await main(["tags", "list"], ctx)).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      'signaltag: environment variable SIGNALTAG_PORT must be a whole number from 1 to 65535, not "abc"; correct it, or unset it to use 3000\n',
    );
  });
});

describe("an entity type on the command line", () => {
  it("is read singular or plural, in any case", () => {
    for (const v of ["user", "users", "User", "USERS"]) expect(parseEntityType(v)).toBe("user");
    for (const v of ["account", "accounts", "Accounts"]) expect(parseEntityType(v)).toBe("account");
  });

  it("is refused with what it may be", () => {
    expect(() => parseEntityType("usr")).toThrow(
      'entity type must be user or account (or users, accounts), not "usr"',
    );
  });
});
