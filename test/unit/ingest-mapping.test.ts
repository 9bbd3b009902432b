import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/ingest/group-commit.ts";
import { mapMessage } from "../../src/ingest/mapping.ts";
import { correctedTime } from "../../src/ingest/timestamps.ts";

const received = Date.parse("2026-03-10T12:00:00Z");
const map = (msg: unknown, extra: { sentAt?: unknown; impliedType?: "track" } = {}) =>
  mapMessage(msg, 0, { receivedAt: received, ...extra });

describe("the tracking spec's mapping", () => {
  it("maps identify traits to user fields and the rest to attributes", () => {
    expect(
      map({
        type: "identify",
        userId: 42,
        context: { groupId: "acme" },
        traits: {
          email: "a@x.test",
          firstName: "Ann",
          lastName: "Lee",
          createdAt: "2025-01-01",
          plan: "pro",
        },
      }),
    ).toEqual({
      ok: true,
      mapped: {
        type: "identify",
        user: {
          userId: "42",
          accountId: "acme",
          email: "a@x.test",
          name: "Ann Lee",
          createdAt: "2025-01-01T00:00:00.000Z",
          attributes: { plan: "pro" },
          seenAt: "2026-03-10T12:00:00.000Z",
        },
      },
    });
  });

  it("maps group traits under snake or camel case names and derives health from the score", () => {
    const out = map({
      type: "group",
      groupId: "acme",
      userId: "u1",
      traits: {
        contractStatus: "Paying",
        renewal_date: "2026-06-30",
        healthScore: "65",
        provisioned_at: "2024-02-03T00:00:00Z",
        seats: 10,
      },
    });
    expect(out).toMatchObject({
      ok: true,
      mapped: {
        type: "group",
        account: {
          accountId: "acme",
          userId: "u1",
          contractStatus: "paying",
          renewalDate: "2026-06-30",
          healthScore: 65,
          health: "average",
          provisionedAt: "2024-02-03T00:00:00.000Z",
          attributes: { seats: 10 },
        },
      },
    });
  });

  it("refuses a trait value the account cannot hold, naming the trait", () => {
    expect(map({ type: "group", groupId: "a", traits: { health_score: 140 } })).toEqual({
      ok: false,
      problem: { index: 0, message: "traits.health_score must be a number from 0 to 100, not 140" },
    });
  });

  it("maps track to an event with module, count and messageId", () => {
    expect(
      map({
        type: "track",
        userId: "u1",
        event: "export",
        messageId: "m1",
        timestamp: "2026-03-01T00:00:00Z",
        properties: { module: "reports", count: 4 },
      }),
    ).toMatchObject({
      ok: true,
      mapped: {
        type: "track",
        event: {
          eventId: "m1",
          activity: "export",
          module: "reports",
          count: 4,
          occurredAt: "2026-03-01T00:00:00.000Z",
        },
      },
    });
  });

  it("accepts and ignores page, screen, alias and anonymousId-only messages", () => {
    for (const type of ["page", "screen", "alias"]) {
      expect(map({ type, userId: "u1" })).toEqual({ ok: true, mapped: { type: "ignored", kind: type } });
    }
    expect(map({ type: "track", anonymousId: "a1", event: "x" })).toEqual({
      ok: true,
      mapped: { type: "ignored", kind: "anonymous" },
    });
    expect(map({ type: "identify", anonymousId: "a1", traits: {} })).toEqual({
      ok: true,
      mapped: { type: "ignored", kind: "anonymous" },
    });
  });

  it("refuses ids, names and events past the file imports' size limits, and traits nested too deep", () => {
    const long = "x".repeat(600);
    const problem = (msg: unknown) => {
      const out = map(msg);
      return out.ok ? undefined : out.problem.message;
    };
    expect(problem({ type: "track", userId: long, event: "login" })).toMatch(
      /^userId is 600 bytes long; at most 512/,
    );
    expect(problem({ type: "track", userId: "u", event: long })).toMatch(
      /^event is 600 bytes long; at most 256/,
    );
    expect(problem({ type: "track", userId: "u", event: "e", messageId: long })).toMatch(
      /^messageId is 600 bytes/,
    );
    expect(problem({ type: "group", groupId: long })).toMatch(/^groupId is 600 bytes/);
    expect(problem({ type: "identify", userId: "u", traits: { email: `${long}@x.test` } })).toMatch(
      /^traits.email is 607 bytes long; at most 320/,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = [deep];
    expect(problem({ type: "identify", userId: "u", traits: { plan: deep } })).toMatch(
      /^traits: attribute "plan" nests objects or arrays more than 8 deep/,
    );
  });

  it("refuses a message of another type on a single-message route", () => {
    expect(map({ type: "identify", userId: "u1" }, { impliedType: "track" })).toMatchObject({ ok: false });
    expect(map({ userId: "u1", event: "x" }, { impliedType: "track" })).toMatchObject({ ok: true });
  });
});

describe("clock skew correction", () => {
  it("moves the timestamp by the client's offset when sentAt is given", () => {
    // The client's clock is 2 hours behind: it says it sent at 10:00 an event of 09:59.
    expect(
      correctedTime(
        { timestamp: "2026-03-10T09:59:00Z", sentAt: "2026-03-10T10:00:00Z" },
        undefined,
        received,
      ),
    ).toEqual({
      ok: true,
      at: Date.parse("2026-03-10T11:59:00Z"),
    });
    expect(
      correctedTime({ originalTimestamp: "2026-03-10T09:59:00Z" }, "2026-03-10T10:00:00Z", received),
    ).toEqual({
      ok: true,
      at: Date.parse("2026-03-10T11:59:00Z"),
    });
  });

  it("takes the timestamp as given without sentAt, and the receive time without a timestamp", () => {
    expect(correctedTime({ timestamp: "2026-01-01T00:00:00Z" }, undefined, received)).toEqual({
      ok: true,
      at: Date.parse("2026-01-01T00:00:00Z"),
    });
    expect(correctedTime({}, "2026-03-10T10:00:00Z", received)).toEqual({ ok: true, at: received });
    expect(correctedTime({ timestamp: "last tuesday" }, undefined, received)).toEqual({
      ok: false,
      field: "timestamp",
    });
  });
});

describe("group commit", () => {
  it("stores requests handed in while a commit runs together in the next one", async () => {
    const commits: number[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const group = new GroupCommit<number, number>(
      async (items) => {
        commits.push(items);
        if (commits.length === 1) await gate;
        return commits.length;
      },
      { maxBatch: 100, maxPending: 1000 },
    );
    const first = group.submit([1]);
    const rest = [group.submit([2, 3]), group.submit([4])];
    release();
    expect(await first).toBe(1);
    expect(await Promise.all(rest)).toEqual([2, 2]);
    expect(commits).toEqual([[1], [2, 3, 4]]);
  });

  it("commits each request alone when a shared commit fails, so one request's failure is its own", async () => {
    const group = new GroupCommit<number, string>(
      async (items) => {
        if (items.includes(-1)) throw new Error("bad");
        return items.join(",");
      },
      { maxBatch: 100, maxPending: 1000 },
    );
    const blocker = group.submit([0]);
    const [good, bad] = await Promise.allSettled([group.submit([1]), group.submit([-1])]);
    await blocker;
    expect(good).toEqual({ status: "fulfilled", value: "1" });
    expect(bad).toMatchObject({ status: "rejected" });
  });

  it("starts a second commit only for a backlog, gathers the rest into the next round, and closes after all", async () => {
    const gates: (() => void)[] = [];
    const commits: number[][] = [];
    let running = 0;
    let most = 0;
    const group = new GroupCommit<number, number>(
      async (items) => {
        commits.push(items);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return items.length;
      },
      { maxBatch: 100, maxPending: 1000, inFlight: 2, parallelFrom: 2 },
    );
    const a = group.submit([1]);
    // One message waiting is no backlog: it waits for the running commit's next round.
    const b = group.submit([2]);
    expect(commits).toEqual([[1]]);
    // Three are: a second commit starts beside the first and takes everything waiting.
    const c = group.submit([3, 4]);
    expect(commits).toEqual([[1], [2, 3, 4]]);
    const d = group.submit([5]);
    gates.shift()!();
    expect(await a).toBe(1);
    // The first loop stops rather than commit one message beside the other; the last loop takes it.
    expect(commits).toEqual([[1], [2, 3, 4]]);
    gates.shift()!();
    expect(await b).toBe(3);
    expect(commits).toEqual([[1], [2, 3, 4], [5]]);
    let closed = false;
    const closing = group.close().then(() => {
      closed = true;
    });
    for (const release of gates.splice(0)) release();
    expect(await Promise.all([c, d])).toEqual([3, 1]);
    await closing;
    expect(closed).toBe(true);
    expect(most).toBe(2);
    await expect(group.submit([6])).rejects.toMatchObject({ code: "ingest_busy" });
  });

  it("refuses with a retriable error while too many messages wait", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const group = new GroupCommit<number, void>(() => gate, { maxBatch: 10, maxPending: 3 });
    const running = group.submit([1]);
    const waiting = group.submit([1, 2, 3]);
    await expect(group.submit([4])).rejects.toMatchObject({ code: "ingest_busy", status: 503 });
    release();
    await Promise.all([running, waiting]);
  });
});
