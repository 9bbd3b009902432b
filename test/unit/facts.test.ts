import { describe, expect, it } from "vitest";
import { factCatalog, factNames, findFact } from "../../src/facts/catalog.ts";
import {
  computeFacts,
  type EntityInput,
  type FactRequest,
  factKey,
  widestWindow,
} from "../../src/facts/compute.ts";
import { addDays, calendarDate, daysBetween } from "../../src/facts/time.ts";

const today = "2026-03-31";

function user(overrides: Partial<EntityInput> = {}): EntityInput {
  return {
    id: "u1",
    type: "user",
    createdDay: "2026-01-01",
    attributes: {},
    activity: [],
    lastActiveDay: null,
    tags: [],
    ...overrides,
  };
}

function account(overrides: Partial<EntityInput> = {}): EntityInput {
  return { ...user({ id: "a1", type: "account" }), ...overrides };
}

function fact(name: string, params: Record<string, unknown> = {}): FactRequest {
  return { key: factKey(name, params), fact: name, params };
}

function value(entity: EntityInput, name: string, params: Record<string, unknown> = {}): unknown {
  const req = fact(name, params);
  return computeFacts(entity, [req], today)[req.key];
}

function activeOn(...days: string[]) {
  return days.map((day) => ({ day, activity: "login", module: "", count: 1 }));
}

describe("calendar days", () => {
  it("puts an instant late in the evening at -05:00 on the next UTC day", () => {
    const instant = new Date("2026-01-15T23:30:00-05:00");
    expect(calendarDate(instant, "UTC")).toBe("2026-01-16");
    expect(calendarDate(instant, "America/New_York")).toBe("2026-01-15");
  });

  it("takes today in the workspace time zone, not in UTC", () => {
    const instant = new Date("2026-03-31T22:30:00Z");
    expect(calendarDate(instant, "UTC")).toBe("2026-03-31");
    expect(calendarDate(instant, "Europe/Berlin")).toBe("2026-04-01");
    expect(calendarDate(instant, "Pacific/Auckland")).toBe("2026-04-01");
    expect(calendarDate(instant, "America/Los_Angeles")).toBe("2026-03-31");
  });

  it("counts whole calendar days across a daylight-saving change", () => {
    expect(daysBetween("2026-03-30", "2026-03-28")).toBe(2);
    expect(addDays("2026-03-28", 2)).toBe("2026-03-30");
    expect(daysBetween("2026-11-02", "2026-10-31")).toBe(2);
  });
});

describe("daysSinceCreated", () => {
  it("is 29 for a user created 29 calendar days before today and 30 a day earlier", () => {
    expect(value(user({ createdDay: "2026-03-02" }), "daysSinceCreated")).toBe(29);
    expect(value(user({ createdDay: "2026-03-01" }), "daysSinceCreated")).toBe(30);
  });

  it("is 0 on the day the user was created", () => {
    expect(value(user({ createdDay: today }), "daysSinceCreated")).toBe(0);
  });
});

describe("activeDays", () => {
  it("counts distinct active dates, not events", () => {
    const e = user({
      activity: [
        { day: "2026-03-30", activity: "login", module: "", count: 5 },
        { day: "2026-03-30", activity: "export", module: "reports", count: 2 },
        { day: "2026-03-29", activity: "login", module: "", count: 1 },
      ],
    });
    expect(value(e, "activeDays", { days: 30 })).toBe(2);
  });

  it("includes today and the first day of the window and excludes the day before it", () => {
    // The last 30 days are the dates d with today - 30 < d <= today: 2026-03-02 .. 2026-03-31.
    expect(value(user({ activity: activeOn(today) }), "activeDays", { days: 30 })).toBe(1);
    expect(value(user({ activity: activeOn("2026-03-02") }), "activeDays", { days: 30 })).toBe(1);
    expect(value(user({ activity: activeOn("2026-03-01") }), "activeDays", { days: 30 })).toBe(0);
  });

  it("ignores activity dated after today", () => {
    expect(value(user({ activity: activeOn("2026-04-01", "2026-05-01") }), "activeDays", { days: 30 })).toBe(
      0,
    );
  });

  it("is exactly 20 for a user active on 20 distinct days of the window", () => {
    const days = Array.from({ length: 20 }, (_, i) => addDays(today, -i));
    expect(value(user({ activity: activeOn(...days) }), "activeDays", { days: 30 })).toBe(20);
  });

  it("is 0 for a user who was never active", () => {
    expect(value(user(), "activeDays", { days: 30 })).toBe(0);
  });
});

describe("daysSinceLastActive", () => {
  it("is null for a user who was never active", () => {
    expect(value(user(), "daysSinceLastActive")).toBeNull();
  });

  it("is 0 when active today and counts calendar days otherwise", () => {
    expect(value(user({ lastActiveDay: today }), "daysSinceLastActive")).toBe(0);
    expect(value(user({ lastActiveDay: "2026-02-28" }), "daysSinceLastActive")).toBe(31);
  });
});

describe("eventCount", () => {
  const e = user({
    activity: [
      { day: "2026-03-31", activity: "export", module: "reports", count: 3 },
      { day: "2026-03-25", activity: "export", module: "dashboards", count: 2 },
      { day: "2026-03-25", activity: "login", module: "", count: 7 },
      { day: "2026-03-01", activity: "export", module: "reports", count: 100 },
    ],
  });

  it("sums counts in the window", () => {
    expect(value(e, "eventCount", { days: 30 })).toBe(12);
    expect(value(e, "eventCount", { days: 31 })).toBe(112);
  });

  it("filters by activity, by module, and by both", () => {
    expect(value(e, "eventCount", { days: 30, activity: "export" })).toBe(5);
    expect(value(e, "eventCount", { days: 30, module: "reports" })).toBe(3);
    expect(value(e, "eventCount", { days: 7, activity: "export", module: "dashboards" })).toBe(2);
    expect(value(e, "eventCount", { days: 6, activity: "export", module: "dashboards" })).toBe(0);
  });

  it("keys facts by their params so two windows never share a value", () => {
    expect(factKey("eventCount", { days: 7 })).not.toBe(factKey("eventCount", { days: 30 }));
    expect(factKey("eventCount", { module: "a", days: 7 })).toBe(
      factKey("eventCount", { days: 7, module: "a" }),
    );
  });
});

describe("modulesUsed", () => {
  it("lists distinct modules in the window, sorted, without events that have no module", () => {
    const e = user({
      activity: [
        { day: "2026-03-31", activity: "a", module: "reports", count: 1 },
        { day: "2026-03-30", activity: "a", module: "admin", count: 1 },
        { day: "2026-03-30", activity: "b", module: "reports", count: 1 },
        { day: "2026-03-30", activity: "c", module: "", count: 1 },
        { day: "2026-02-01", activity: "a", module: "billing", count: 1 },
      ],
    });
    expect(value(e, "modulesUsed", { days: 30 })).toEqual(["admin", "reports"]);
  });
});

describe("account facts", () => {
  it("counts users active in the window", () => {
    const e = account({ activeUserDays: [today, "2026-03-02", "2026-03-01"] });
    expect(value(e, "activeUsers", { days: 30 })).toBe(2);
    expect(value(e, "activeUsers", { days: 1 })).toBe(1);
  });

  it("gives daysUntilRenewal as renewal date minus today, and null without a renewal date", () => {
    expect(value(account({ renewalDate: "2026-06-29" }), "daysUntilRenewal")).toBe(90);
    expect(value(account({ renewalDate: today }), "daysUntilRenewal")).toBe(0);
    expect(value(account({ renewalDate: "2026-03-30" }), "daysUntilRenewal")).toBe(-1);
    expect(value(account({ renewalDate: null }), "daysUntilRenewal")).toBeNull();
  });

  it("returns the stored contract status, health and score, null when absent", () => {
    const e = account({ contractStatus: "paying", health: "poor", healthScore: 12 });
    expect(value(e, "contractStatus")).toBe("paying");
    expect(value(e, "health")).toBe("poor");
    expect(value(e, "healthScore")).toBe(12);
    expect(value(account(), "health")).toBeNull();
  });

  it("gives daysSinceProvisioned in calendar days", () => {
    expect(value(account({ createdDay: "2026-03-02" }), "daysSinceProvisioned")).toBe(29);
    expect(value(account({ createdDay: "2026-03-01" }), "daysSinceProvisioned")).toBe(30);
  });
});

describe("the catalog", () => {
  it("lists the facts in the order of DESIGN section 3, each under its own name", () => {
    expect(factNames).toEqual([
      "daysSinceCreated",
      "activeDays",
      "daysSinceLastActive",
      "eventCount",
      "modulesUsed",
      "activeUsers",
      "userCount",
      "daysSinceProvisioned",
      "contractStatus",
      "health",
      "healthScore",
      "daysUntilRenewal",
      "attributes",
      "account",
      "tags",
    ]);
    for (const name of factNames) expect(factCatalog[name]?.name).toBe(name);
  });

  it("finds no fact named after a property every object has", () => {
    expect(findFact("activeDays")?.name).toBe("activeDays");
    expect(findFact("constructor")).toBeUndefined();
    expect(findFact("toString")).toBeUndefined();
  });

  it("refuses to compute a fact it does not know", () => {
    expect(() => value(user(), "constructor")).toThrow("unknown fact constructor");
  });
});

describe("widestWindow", () => {
  it("is the widest days param of the facts over a window, and 0 when none reads the rollups", () => {
    expect(
      widestWindow([fact("activeDays", { days: 7 }), fact("eventCount", { days: 30, module: "a" })]),
    ).toBe(30);
    expect(widestWindow([fact("activeUsers", { days: 45 }), fact("modulesUsed", { days: 3 })])).toBe(45);
    expect(widestWindow([fact("daysSinceLastActive"), fact("tags"), fact("userCount")])).toBe(0);
    expect(widestWindow([])).toBe(0);
  });
});
