import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, nextAttemptAt, retryDelayMs } from "../../src/webhooks/backoff.ts";
import { newSecret, signature, signedHeaders } from "../../src/webhooks/signing.ts";

describe("webhook signatures", () => {
  it("signs exactly as the standardwebhooks package does", () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const body = JSON.stringify({ type: "tag.added", data: { entityId: "ü-1" } });
    const at = new Date("2026-03-01T12:00:00Z");
    const theirs = new Webhook(secret).sign("msg_42", at, body);
    expect(signature(secret, "msg_42", Math.floor(at.getTime() / 1000), body)).toBe(theirs);
  });

  it("produces headers the package verifies, and that fail with another secret or body", () => {
    const secret = newSecret();
    const body = '{"type":"tag.removed"}';
    const headers = signedHeaders(secret, "msg_7", body, new Date());
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});

describe("webhook retry backoff", () => {
  it("doubles from the base with jitter between half and all of the delay, capped", () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseMs: 1000, maxDelayMs: 8000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => retryDelayMs(p, n, 0.999999))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect([1, 2, 3].map((n) => retryDelayMs(p, n, 0))).toEqual([500, 1000, 2000]);
  });

  it("keeps retrying for about a day with the default policy, then gives up", () => {
    const createdAt = new Date("2026-03-01T00:00:00Z");
    let now = createdAt;
    let attempts = 0;
    for (;;) {
      attempts++;
      const next = nextAttemptAt(DEFAULT_RETRY_POLICY, { attempts, createdAt, now, random: 0.5 });
      if (!next) break;
      now = next;
    }
    const hours = (now.getTime() - createdAt.getTime()) / 3600_000;
    expect(hours).toBeGreaterThan(20);
    expect(hours).toBeLessThanOrEqual(24);
    expect(attempts).toBeGreaterThan(10);
    expect(attempts).toBeLessThan(40);
  });
});
