import { describe, expect, it } from "vitest";
import { csvField, csvLine } from "../../src/csv.ts";

describe("the CSV writer", () => {
  it("quotes fields with commas, quotes and line breaks (RFC 4180)", () => {
    expect(csvLine(["a,b", 'say "hi"', "two\nlines", "plain", null, 42])).toBe(
      '"a,b","say ""hi""","two\nlines",plain,,42\n',
    );
  });

  it.each([
    ["=cmd|' /C calc'!A0", `"'=cmd|' /C calc'!A0"`],
    ["+evil", `"'+evil"`],
    ["-2+3", `"'-2+3"`],
    ["@SUM(A1)", `"'@SUM(A1)"`],
    ["\tx", `"'\tx"`],
    ["\rx", `"'\rx"`],
  ])("neutralises %j, which a spreadsheet would run as a formula", (value, written) => {
    expect(csvField(value)).toBe(written);
  });

  it("leaves plain numbers and values that only contain formula characters alone", () => {
    expect(csvField("-5")).toBe("-5");
    expect(csvField("+3.5")).toBe("+3.5");
    expect(csvField(-5)).toBe("-5");
    expect(csvField("a=b")).toBe("a=b");
  });
});
