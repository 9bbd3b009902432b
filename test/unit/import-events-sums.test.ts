import { describe, expect, it } from "vitest";
import type { ValueRanks } from "../../src/imports/events/key-order.ts";
import { EventSums } from "../../src/imports/events/sums.ts";
import { daysFromCivil, readInstant, writeTimestamp } from "../../src/imports/events/time.ts";

function instant(s: string) {
  return readInstant(Buffer.from(s), 0, s.length, { seconds: 0, micros: 0 });
}

/** YYYY-MM-DD of a day number (the inverse of daysFromCivil) for years 1 to 9999. */
function civilFromDays(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/**
 * Binary COPY data as rows of fields, read by `read` (field index, data,
 * offset, length) for values that are not text; null fields as null.
 */
function decodeCopy(
  chunks: Buffer[],
  read: (field: number, data: Buffer, o: number, length: number) => string | undefined = () => undefined,
): (string | null)[][] {
  const data = Buffer.concat(chunks);
  expect(data.subarray(0, 11).toString("latin1")).toBe("PGCOPY\n\xff\r\n\0");
  let o = 19;
  const out: (string | null)[][] = [];
  for (;;) {
    const fields = data.readInt16BE(o);
    o += 2;
    if (fields === -1) break;
    const values: (string | null)[] = [];
    for (let f = 0; f < fields; f++) {
      const length = data.readInt32BE(o);
      o += 4;
      if (length < 0) {
        values.push(null);
        continue;
      }
      values.push(read(f, data, o, length) ?? data.toString("utf8", o, o + length));
      o += length;
    }
    out.push(values);
  }
  expect(o).toBe(data.length);
  return out;
}

/** The sums' binary COPY data as CSV lines, sorted unless `ranks` is given (then in the order written). */
async function csvOf(sums: EventSums, ranks?: ValueRanks): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of sums.copyData(ranks)) chunks.push(Buffer.from(chunk));
  const rows = decodeCopy(chunks, (f, data, o) =>
    f === 2
      ? civilFromDays(data.readInt32BE(o) + daysFromCivil(2000, 1, 1))
      : f === 5
        ? String(data.readBigInt64BE(o))
        : undefined,
  );
  for (const row of rows) expect(row).toHaveLength(6);
  const lines = rows.map((row) => row.join(","));
  return ranks ? lines : lines.sort();
}

function add(sums: EventSums, user: string, account: string, activity: string, module: string, at: string) {
  const b = [user, account, activity, module].map((v) => Buffer.from(v));
  const spans = new Int32Array(8);
  let o = 0;
  b.forEach((x, i) => {
    spans[2 * i] = o;
    o += x.length;
    spans[2 * i + 1] = o;
  });
  sums.addSpans(Buffer.concat(b), spans, instant(at).seconds, 1);
}

describe("event sums", () => {
  it("numbers days as Date does, from year 1 to 9999", () => {
    for (const date of ["0001-01-01", "1969-12-31", "1970-01-01", "2000-02-29", "2024-03-31", "9999-12-31"]) {
      const [y, m, d] = date.split("-").map(Number) as [number, number, number];
      const days = daysFromCivil(y, m, d);
      const at = new Date(0);
      at.setUTCFullYear(y, m - 1, d);
      expect(days).toBe(Math.round(at.getTime() / 86_400_000));
      expect(civilFromDays(days)).toBe(date);
    }
  });

  it("reads a checked timestamp's instant, rounding finer fractions to microseconds as Postgres does", () => {
    const at = (s: string) => Date.parse(s) / 1000;
    expect(instant("2024-03-31T00:30:00+02:00")).toEqual({ seconds: at("2024-03-30T22:30:00Z"), micros: 0 });
    expect(instant("2024-03-31T10:00:00.12-05:00")).toEqual({
      seconds: at("2024-03-31T15:00:00Z"),
      micros: 120_000,
    });
    expect(instant("2024-03-31T10:00:00.1234567Z")).toEqual({
      seconds: at("2024-03-31T10:00:00Z"),
      micros: 123_457,
    });
    expect(instant("2024-03-30T23:59:59.9999996Z")).toEqual({
      seconds: at("2024-03-31T00:00:00Z"),
      micros: 0,
    });
  });

  it("writes instants as microseconds since 2000 in eight big-endian bytes", () => {
    const written = (s: string) => {
      const out = Buffer.alloc(8);
      writeTimestamp(instant(s), out, 0);
      return out.readBigInt64BE(0);
    };
    expect(written("2000-01-01T00:00:00Z")).toBe(0n);
    expect(written("2000-01-01T00:00:00.000001Z")).toBe(1n);
    expect(written("1999-12-31T23:59:59.999999Z")).toBe(-1n);
    expect(written("2024-03-31T10:00:00.5Z")).toBe(
      BigInt(Date.parse("2024-03-31T10:00:00Z") - 946_684_800_000) * 1000n + 500_000n,
    );
    expect(written("0001-01-01T00:00:00Z")).toBe(-63_082_281_600_000_000n);
    expect(written("9999-12-31T23:59:59.999999Z")).toBe(252_455_615_999_999_999n);
  });

  it("sums users, their accounts, accounts alone and users without an account", async () => {
    const sums = new EventSums("UTC");
    add(sums, "u-1", "a-1", "login", "", "2024-03-30T23:30:00-01:00");
    add(sums, "u-1", "a-1", "login", "", "2024-03-31T08:00:00Z");
    add(sums, "u-2", "a-1", "export", "reports", "2024-03-31T08:00:00Z");
    add(sums, "", "a-1", "login", "", "2024-03-31T09:00:00Z");
    add(sums, "u-3", "", "login", "", "2024-03-31T09:00:00Z");
    expect(sums.abandoned).toBeUndefined();
    expect(sums.throughUsers).toBe(true);
    const references = decodeCopy([...sums.referencesCopyData()].map((c) => Buffer.from(c)));
    expect(references.map(([user, account]) => ({ user, account }))).toEqual([
      { user: "u-1", account: "a-1" },
      { user: "u-2", account: "a-1" },
      { user: "u-3", account: null },
      { user: null, account: "a-1" },
    ]);
    expect(await csvOf(sums)).toEqual([
      "account,a-1,2024-03-31,export,reports,1",
      "account,a-1,2024-03-31,login,,3",
      "user,u-1,2024-03-31,login,,2",
      "user,u-2,2024-03-31,export,reports,1",
      "user,u-3,2024-03-31,login,,1",
      "user-account,u-3,2024-03-31,login,,1",
    ]);
  });

  it("puts events on their day in the workspace time zone", async () => {
    const sums = new EventSums("Europe/Paris");
    add(sums, "u-1", "a-1", "login", "", "2024-03-30T22:59:59Z");
    add(sums, "u-1", "a-1", "login", "", "2024-03-30T23:00:00Z");
    add(sums, "u-1", "a-1", "login", "", "2024-10-26T21:59:59Z");
    add(sums, "u-1", "a-1", "login", "", "2024-10-26T22:00:00Z");
    expect(sums.offsets.get(Date.parse("2024-03-30T22:00:00Z") / 3_600_000)).toBe(3600);
    expect(sums.offsets.get(Date.parse("2024-10-26T21:00:00Z") / 3_600_000)).toBe(7200);
    expect((await csvOf(sums)).filter((l) => l.startsWith("user,"))).toEqual([
      "user,u-1,2024-03-30,login,,1",
      "user,u-1,2024-03-31,login,,1",
      "user,u-1,2024-10-26,login,,1",
      "user,u-1,2024-10-27,login,,1",
    ]);
  });

  it("writes the sums in the rollup key's order as the database ranks the values", async () => {
    const sums = new EventSums("UTC");
    add(sums, "u-b", "a-2", "view", "reports", "2024-03-31T08:00:00Z");
    add(sums, "u-a", "a-1", "login", "", "2024-03-31T08:00:00Z");
    add(sums, "u-b", "a-2", "login", "", "2024-03-30T08:00:00Z");
    add(sums, "u-b", "a-2", "view", "", "2024-03-31T09:00:00Z");
    add(sums, "u-a", "a-1", "view", "reports", "2024-03-29T08:00:00Z");
    expect(sums.values()).toEqual({
      users: ["u-b", "u-a"],
      accounts: ["a-2", "a-1"],
      activities: ["view", "login"],
      modules: ["reports", ""],
    });
    // A collation that puts every list in the reverse of its usual order (ranks per value as listed above).
    const reversed = { users: [0, 1], accounts: [0, 1], activities: [0, 1], modules: [0, 1] };
    expect(await csvOf(sums, reversed)).toEqual([
      "account,a-2,2024-03-30,login,,1",
      "account,a-2,2024-03-31,view,reports,1",
      "account,a-2,2024-03-31,view,,1",
      "account,a-1,2024-03-29,view,reports,1",
      "account,a-1,2024-03-31,login,,1",
      "user,u-b,2024-03-30,login,,1",
      "user,u-b,2024-03-31,view,reports,1",
      "user,u-b,2024-03-31,view,,1",
      "user,u-a,2024-03-29,view,reports,1",
      "user,u-a,2024-03-31,login,,1",
    ]);
    expect([sums.firstDay, sums.lastDay]).toEqual([daysFromCivil(2024, 3, 29), daysFromCivil(2024, 3, 31)]);
  });

  it("moves the sums of users named without an account to the accounts the database gives them", async () => {
    const sums = new EventSums("UTC");
    add(sums, "u-1", "a-1", "login", "", "2024-03-31T08:00:00Z");
    add(sums, "u-2", "", "login", "", "2024-03-31T09:00:00Z");
    add(sums, "u-2", "", "export", "reports", "2024-03-31T10:00:00Z");
    add(sums, "u-3", "", "login", "", "2024-03-30T09:00:00Z");
    expect(sums.partial).toBe(true);
    sums.setAccount("u-2", "a-1");
    sums.setAccount("u-3", "a-9");
    sums.resolveAccounts();
    expect(sums.partial).toBe(false);
    // Ranks as listed: users u-1, u-2, u-3; accounts a-1, a-9; activities login, export; modules "", reports.
    const ranks = { users: [0, 1, 2], accounts: [0, 1], activities: [0, 1], modules: [0, 1] };
    expect(await csvOf(sums, ranks)).toEqual([
      "account,a-1,2024-03-31,login,,2",
      "account,a-1,2024-03-31,export,reports,1",
      "account,a-9,2024-03-30,login,,1",
      "user,u-1,2024-03-31,login,,1",
      "user,u-2,2024-03-31,login,,1",
      "user,u-2,2024-03-31,export,reports,1",
      "user,u-3,2024-03-30,login,,1",
    ]);
    expect(sums.named(10)).toEqual({ users: ["u-1", "u-2", "u-3"], accounts: ["a-1", "a-9"] });
  });

  it("writes partial sums to a file when the table is full, and all of them out", async () => {
    const rows: [string, string, string][] = [];
    for (let i = 0; i < 3000; i++)
      rows.push([`u-${i % 700}`, `a-${i % 7}`, `2024-03-${10 + (i % 13)}T08:00:00Z`]);
    const whole = new EventSums("UTC");
    const spilling = new EventSums("UTC", { maxSlots: 1 << 8 });
    for (const [user, account, at] of rows) {
      add(whole, user, account, "login", "", at);
      add(spilling, user, account, "login", "", at);
    }
    expect(spilling.partial).toBe(true);
    const total = (lines: string[]) => {
      const sums = new Map<string, number>();
      for (const line of lines) {
        const key = line.slice(0, line.lastIndexOf(","));
        sums.set(key, (sums.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(",") + 1)));
      }
      return [...sums].sort();
    };
    const partial = await csvOf(spilling);
    spilling.release();
    const exact = await csvOf(whole);
    expect(whole.partial).toBe(false);
    expect(partial.length).toBeGreaterThan(exact.length);
    expect(total(partial)).toEqual(total(exact));
  });

  it("gives up on a user named with two accounts, and on an hour whose offset changes", () => {
    const twice = new EventSums("UTC");
    add(twice, "u-1", "a-1", "login", "", "2024-03-31T08:00:00Z");
    add(twice, "u-1", "a-2", "login", "", "2024-03-31T08:00:00Z");
    expect(twice.abandoned).toBe("a user named with two accounts");
    // St. John's changes its clocks at 02:00 local time, half past a UTC hour.
    const zone = new EventSums("America/St_Johns");
    add(zone, "u-1", "a-1", "login", "", "2024-11-03T04:10:00Z");
    expect(zone.abandoned).toBe("the time zone's offset changes within an hour");
    expect([twice.fallback?.reason, zone.fallback?.reason]).toEqual(["bad reference", "timezone"]);
  });
});
