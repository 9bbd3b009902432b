import { describe, expect, it } from "vitest";
import { healthFromScore } from "../../src/seed/accounts.ts";
import { type SeedOptions, seedOptionProblems, WorkspaceGenerator } from "../../src/seed/generator.ts";
import { accountRow, eventRow, userRow } from "../../src/seed/rows.ts";

const asOf = new Date("2026-03-15T15:30:00Z");
const small: SeedOptions = { accounts: 20, users: 200, days: 60, seed: 1, asOf };

function allRows(options: SeedOptions, timezone = "UTC") {
  const gen = new WorkspaceGenerator(options, timezone);
  return {
    accounts: [...gen.accounts()].map(accountRow),
    users: [...gen.users()].map(userRow),
    events: [...gen.events()].map(eventRow),
  };
}

/** Per user, the distinct dates with activity among the last 30 (UTC). */
function recentActiveDays(options: SeedOptions): Map<string, number> {
  const gen = new WorkspaceGenerator(options, "UTC");
  const days = new Map<string, Set<string>>();
  for (const u of gen.users()) days.set(u.id, new Set());
  for (const e of gen.events()) {
    if (!e.userId || gen.calendar.dayOf(e.occurredAt) >= 30) continue;
    days.get(e.userId)!.add(gen.calendar.dateOf(e.occurredAt));
  }
  return new Map([...days].map(([id, set]) => [id, set.size]));
}

describe("the synthetic workspace generator", () => {
  it("gives identical rows for the same options", () => {
    expect(allRows(small)).toEqual(allRows(small));
  });

  it("gives different rows for a different seed", () => {
    const a = allRows(small);
    const b = allRows({ ...small, seed: 2 });
    expect(b.accounts).not.toEqual(a.accounts);
    expect(b.users).not.toEqual(a.users);
    expect(b.events).not.toEqual(a.events);
  });

  it("numbers accounts and users with zero-padded ids", () => {
    const { accounts, users } = allRows(small);
    expect(accounts[0]?.[0]).toBe("acc-000001");
    expect(accounts.at(-1)?.[0]).toBe("acc-000020");
    expect(users[0]?.[0]).toBe("usr-0000001");
    expect(new Set(users.map((u) => u[0])).size).toBe(200);
  });

  it("creates exactly the users asked for, spread unevenly over the accounts", () => {
    const gen = new WorkspaceGenerator({ ...small, accounts: 200, users: 5000 }, "UTC");
    const sizes = [...gen.accounts()].map((a) => a.userCount);
    expect(sizes.reduce((s, n) => s + n, 0)).toBe(5000);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...sizes)).toBeGreaterThan(5 * (5000 / 200));
  });

  it("leaves some accounts without users when there are fewer users than accounts", () => {
    const gen = new WorkspaceGenerator({ ...small, accounts: 50, users: 10 }, "UTC");
    const sizes = [...gen.accounts()].map((a) => a.userCount);
    expect(sizes.reduce((s, n) => s + n, 0)).toBe(10);
    expect([...gen.users()]).toHaveLength(10);
  });

  it("never dates anything after the as-of instant or before its entity existed", () => {
    const gen = new WorkspaceGenerator(small, "America/New_York");
    const accounts = new Map([...gen.accounts()].map((a) => [a.id, a]));
    const users = new Map([...gen.users()].map((u) => [u.id, u]));
    for (const u of users.values()) {
      expect(u.createdAt).toBeLessThanOrEqual(asOf.getTime());
      expect(u.createdAt).toBeGreaterThanOrEqual(accounts.get(u.accountId)!.provisionedAt);
    }
    for (const e of gen.events()) {
      expect(e.occurredAt).toBeLessThanOrEqual(asOf.getTime());
      const since = e.userId ? users.get(e.userId)!.createdAt : accounts.get(e.accountId)!.provisionedAt;
      expect(e.occurredAt).toBeGreaterThanOrEqual(since);
      expect(gen.calendar.dayOf(e.occurredAt)).toBeLessThan(60);
      expect(e.count).toBeGreaterThanOrEqual(1);
    }
  });

  it("emits at most one event per user, day, activity and module", () => {
    const gen = new WorkspaceGenerator(small, "Europe/Berlin");
    const keys = new Set<string>();
    let userEvents = 0;
    for (const e of gen.events()) {
      if (!e.userId) continue;
      userEvents++;
      keys.add(`${e.userId}|${gen.calendar.dateOf(e.occurredAt)}|${e.activity}|${e.module}`);
    }
    expect(keys.size).toBe(userEvents);
  });

  it("has power users, inactive users and everything between", () => {
    const active = [...recentActiveDays(small).values()];
    const power = active.filter((n) => n >= 20).length;
    const inactive = active.filter((n) => n === 0).length;
    const between = active.filter((n) => n > 0 && n < 20).length;
    expect(power).toBeGreaterThanOrEqual(5);
    expect(inactive).toBeGreaterThanOrEqual(20);
    expect(between).toBeGreaterThanOrEqual(20);
    expect(power + inactive + between).toBe(200);
  });

  it("has some users that never did anything and some account-level events", () => {
    const gen = new WorkspaceGenerator(small, "UTC");
    const seen = new Set<string>();
    let accountLevel = 0;
    for (const e of gen.events()) {
      if (e.userId) seen.add(e.userId);
      else accountLevel++;
    }
    expect(200 - seen.size).toBeGreaterThan(0);
    expect(accountLevel).toBeGreaterThan(0);
  });

  it("makes accounts of every contract status, renewals at risk and new accounts", () => {
    const gen = new WorkspaceGenerator(small, "UTC");
    const accounts = [...gen.accounts()];
    const cal = gen.calendar;
    const statuses = new Set(accounts.map((a) => a.contractStatus));
    expect(statuses).toEqual(new Set(["trial", "paying", "churned", null]));
    const atRisk = accounts.filter(
      (a) =>
        a.contractStatus === "paying" &&
        a.health === "poor" &&
        a.renewalDate !== null &&
        a.renewalDate >= cal.today &&
        a.renewalDate <= cal.date(-90),
    );
    expect(atRisk.length).toBeGreaterThanOrEqual(1);
    expect(accounts.filter((a) => a.provisionedAt >= cal.start(29)).length).toBeGreaterThanOrEqual(1);
    expect(accounts.some((a) => a.renewalDate === null)).toBe(true);
    expect(accounts.some((a) => a.healthScore === null && a.health !== null)).toBe(true);
  });

  it("stores the label a score implies whenever a score has no explicit label", () => {
    const gen = new WorkspaceGenerator({ ...small, accounts: 500, users: 500 }, "UTC");
    const scored = [...gen.accounts()].filter((a) => a.healthScore !== null);
    const agreeing = scored.filter((a) => a.health === healthFromScore(a.healthScore!));
    expect(scored.length).toBeGreaterThan(50);
    // Most labels follow the score; a CSM's explicit judgement sometimes differs.
    expect(agreeing.length / scored.length).toBeGreaterThan(0.8);
    expect(agreeing.length).toBeLessThan(scored.length);
  });

  it("derives health labels with poor below 40 and good from 70", () => {
    expect(healthFromScore(0)).toBe("poor");
    expect(healthFromScore(39.9)).toBe("poor");
    expect(healthFromScore(40)).toBe("average");
    expect(healthFromScore(69.9)).toBe("average");
    expect(healthFromScore(70)).toBe("good");
  });

  it("makes a short history when asked for fewer than 30 days", () => {
    const gen = new WorkspaceGenerator({ ...small, days: 3 }, "UTC");
    const days = new Set([...gen.events()].map((e) => gen.calendar.dayOf(e.occurredAt)));
    expect([...days].sort()).toEqual([0, 1, 2]);
  });

  it("reports every bad option", () => {
    expect(seedOptionProblems(small)).toEqual([]);
    const problems = seedOptionProblems({ ...small, accounts: 0, days: 1.5, asOf: new Date("nope") });
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/--accounts/);
    expect(problems.join("\n")).toMatch(/--days/);
    expect(problems.join("\n")).toMatch(/--as-of/);
  });
});
