import fs from "node:fs";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { canonicalTimestamp, plainCount } from "../../src/imports/events/byte-checks.ts";
import { firstRowLacksAccount, splitHeader } from "../../src/imports/events/header.ts";
import { FULL, Interner, MAX_VALUES } from "../../src/imports/events/interner.ts";
import { countingSort } from "../../src/imports/events/key-order.ts";
import { SpillFile } from "../../src/imports/events/spill-file.ts";
import { UserAccounts } from "../../src/imports/events/user-accounts.ts";
import { ZoneOffsets } from "../../src/imports/events/zone-offsets.ts";
import { positiveCount, timestamp } from "../../src/imports/values.ts";

const bytes = (s: string) => Buffer.from(s, "utf8");

describe("the parts of the events direct path", () => {
  it("numbers byte strings in order of first sight and finds them again", () => {
    const names = new Interner();
    const id = (s: string) => names.id(bytes(s), 0, bytes(s).length);
    expect([id("u-1"), id("u-2"), id("u-1"), id("ü"), id("")]).toEqual([0, 1, 0, 2, 3]);
    expect(names.count).toBe(4);
    expect(names.text(2)).toBe("ü");
    expect(names.length(2)).toBe(2);
    expect(names.lookup(bytes("u-2"), 0, 3)).toBe(1);
    expect(names.lookup(bytes("u-3"), 0, 3)).toBe(-1);
    expect(names.count).toBe(4);
    const out = Buffer.alloc(8);
    expect(names.write(0, out, 1)).toBe(4);
    expect(out.toString("utf8", 1, 4)).toBe("u-1");
  });

  it("answers FULL for a new value once it numbers as many as it keeps, and still finds the others", () => {
    const names = new Interner();
    const buf = Buffer.alloc(4);
    for (let i = 0; i < MAX_VALUES; i++) {
      buf.writeUInt32BE(i);
      names.id(buf, 0, 4);
    }
    buf.writeUInt32BE(MAX_VALUES);
    expect(names.id(buf, 0, 4)).toBe(FULL);
    buf.writeUInt32BE(7);
    expect(names.id(buf, 0, 4)).toBe(7);
  });

  it("sorts positions by whole-number keys, keeping the order of equal keys", () => {
    const keys = Int32Array.from([2, 0, 1, 0, 2]);
    expect([...countingSort(Int32Array.from([0, 1, 2, 3, 4]), keys, 3)]).toEqual([1, 3, 2, 0, 4]);
    // Applied after an earlier order, as for a less significant key.
    expect([...countingSort(Int32Array.from([4, 3, 2, 1, 0]), keys, 3)]).toEqual([3, 1, 2, 4, 0]);
  });

  it("keeps every user's account and finds it by the user's bytes", () => {
    const accounts = new UserAccounts();
    accounts.add("u-1", "a-1");
    accounts.add("u-2", "a-2");
    accounts.add("u-3", "a-1");
    const of = (user: string) => accounts.of(bytes(user), 0, bytes(user).length);
    expect(Buffer.from(accounts.accountBytes(of("u-3"))).toString()).toBe("a-1");
    expect(Buffer.from(accounts.accountBytes(of("u-2"))).toString()).toBe("a-2");
    expect(of("u-9")).toBe(-1);
    expect(accounts.full).toBe(false);
  });

  it("tells a zone's offset per hour, and why not when it changes within the hour", () => {
    const hour = (iso: string) => Date.parse(iso) / 3_600_000;
    const paris = new ZoneOffsets("Europe/Paris");
    expect(paris.at(hour("2024-03-31T00:00:00Z"))).toBe(3600);
    expect(paris.at(hour("2024-03-31T01:00:00Z"))).toBe(7200);
    expect(paris.offsets.size).toBe(2);
    expect(paris.problem).toBeUndefined();
    // St. John's changes its clocks at 02:00 local time, half past a UTC hour.
    const stJohns = new ZoneOffsets("America/St_Johns");
    expect(stJohns.at(hour("2024-11-03T04:00:00Z"))).toBeUndefined();
    expect(stJohns.problem).toBe("the time zone's offset changes within an hour");
    const unknown = new ZoneOffsets("Mars/Olympus_Mons");
    expect(unknown.problem).toBe("the time zone Mars/Olympus_Mons is unknown here");
    expect(unknown.at(0)).toBeUndefined();
  });

  it("settles at the byte level only timestamps and counts the exact path passes on unchanged", () => {
    const stamps = [
      "2024-03-31T10:00:00Z",
      "2024-03-31T10:00:00.123456789+05:30",
      "2024-02-29T23:59:59-14:00",
      "2023-02-29T10:00:00Z",
      "2024-03-31T24:00:00Z",
      "2024-03-31T10:00:00+15:00",
      "2024-03-31T10:00:00.Z",
      "2024-03-31 10:00:00Z",
      "2024-03-31T10:00Z",
      "2024-03-31",
    ];
    for (const s of stamps) {
      let passedOn: boolean;
      try {
        passedOn = timestamp(s) === s;
      } catch {
        passedOn = false;
      }
      expect([s, canonicalTimestamp(bytes(s), 0, s.length)]).toEqual([s, passedOn]);
    }
    for (const s of ["1", "42", "999999999", "0", "007", "+2", "1.5", "1000000000"]) {
      let passedOn: boolean;
      try {
        passedOn = positiveCount(s) === s;
      } catch {
        passedOn = false;
      }
      expect([s, plainCount(bytes(s), 0, s.length)]).toEqual([s, passedOn && s.length <= 9]);
    }
  });

  it("splits a plain header from the rows, and refuses one with quotes", async () => {
    const split = await splitHeader(
      Readable.from([Buffer.from("\ufeffuser_id, Activity\r\nu-1,"), Buffer.from("login\n")]),
    );
    expect(split?.columns).toEqual(["user_id", "Activity"]);
    const body: Buffer[] = [];
    for await (const chunk of split!.body) body.push(chunk);
    expect(Buffer.concat(body).toString()).toBe("u-1,login\n");
    expect(await splitHeader(Readable.from([Buffer.from('"user_id",activity\n')]))).toBeUndefined();
    expect(await splitHeader(Readable.from([Buffer.from("user_id,activity")]))).toBeUndefined();
  });

  it("tells whether the first row names a user without an account", () => {
    const columns = ["user_id", "account_id", "activity"];
    expect(firstRowLacksAccount(bytes("\n , ,\nu-1,,login\n"), columns)).toBe(true);
    expect(firstRowLacksAccount(bytes("u-1,a-1,login\n"), columns)).toBe(false);
    expect(firstRowLacksAccount(bytes(",a-1,login\n"), columns)).toBe(false);
    expect(firstRowLacksAccount(bytes("u-1,login\n"), ["user_id", "activity"])).toBe(true);
    expect(firstRowLacksAccount(bytes("a-1,login\n"), ["account_id", "activity"])).toBe(false);
  });

  it("reads back what was spilled, in order, and leaves no file behind", () => {
    const spill = new SpillFile();
    spill.append([Buffer.from("abc"), Buffer.from("def")]);
    spill.append([Buffer.from("g")]);
    expect(Buffer.concat([...spill.read()]).toString()).toBe("abcdefg");
    expect(fs.existsSync(spill.path)).toBe(true);
    spill.release();
    expect(fs.existsSync(spill.path)).toBe(false);
  });
});
