import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { redactUrl } from "../../src/errors/redact-url.ts";

function configMessage(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("loadConfig accepted the environment");
}

describe("URLs in messages", () => {
  it("masks the password of a DATABASE_URL that is refused", () => {
    const message = configMessage({ DATABASE_URL: "mysql://user:secret@host/db" });
    expect(message).toContain("DATABASE_URL");
    expect(message).toContain("user:***@host");
    expect(message).not.toContain("secret");
  });

  it("masks the password of a REDIS_URL that is refused", () => {
    const message = configMessage({ REDIS_URL: "http://worker:hunter2@cache:6379" });
    expect(message).toContain("REDIS_URL");
    expect(message).not.toContain("hunter2");
  });

  it("masks a password even in text that is not a valid URL", () => {
    expect(redactUrl("postgres://me:pa ss@[bad/db")).toBe("postgres://me:***@[bad/db");
    expect(redactUrl("redis://:s3cret@127.0.0.1:6379/0")).toBe("redis://:***@127.0.0.1:6379/0");
  });

  it("leaves a URL without a password as it is", () => {
    expect(redactUrl("postgres://127.0.0.1:5432/signaltag")).toBe("postgres://127.0.0.1:5432/signaltag");
  });
});
