import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { MAX_CONDITION_DEPTH, MAX_CONDITIONS } from "../../src/limits.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const T = "2026-03-31T12:00:00.000Z";
const test = { fact: "activeDays", params: { days: 30 }, operator: "greaterThan", value: 1 };

describe.skipIf(backendUnavailable())("hostile requests get a 400 naming the field", () => {
  const t = useTestDatabase();
  const api = useApi(t, {
    env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) },
    clock: () => new Date(T),
  });
  let keys: Record<Role, string>;
  const as = (role: Role, method: "POST" | "GET" | "DELETE", url: string, payload?: unknown) =>
    api.call(keys[role], { method, url, ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-0" });
    await t.database.db.execute(sql`
      insert into users (id, account_id, email, created_at)
      select 'u' || i, 'acc-0', 'u' || i || '@example.com', '2025-01-01T00:00:00Z'::timestamptz
      from generate_series(1, 20) i`);
    keys = await api.createKeys();
  });

  it("refuses 5,000 conditions at once while /health keeps answering", async () => {
    const conditions = { any: Array.from({ length: 5000 }, () => test) };
    const [segment, health] = await Promise.all([
      as("viewer", "POST", "/v1/segments/users/query", { conditions }),
      api.call(undefined, { method: "GET", url: "/health" }),
    ]);
    expect(segment.statusCode, segment.body).toBe(400);
    expect(segment.json().error.message).toContain(`more than ${MAX_CONDITIONS} conditions`);
    expect(health.statusCode).toBe(200);
  });

  it.each([1500, 10_000])("refuses conditions nested %i deep with a 400", async (depth) => {
    // Written by hand: JSON.stringify itself overflows the stack on 10,000 levels.
    const body = `{"conditions":${'{"all":['.repeat(depth)}${JSON.stringify(test)}${"]}".repeat(depth)}}`;
    const res = await api.call(keys.viewer, {
      method: "POST",
      url: "/v1/segments/users/query",
      headers: { "content-type": "application/json" },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.message).toContain(`more than ${MAX_CONDITION_DEPTH} levels`);
  });

  it("refuses a NUL character in a path id, bulk ids and a tags file, naming the field", async () => {
    const path = await as("viewer", "GET", "/v1/users/u1%00x");
    expect(path.statusCode, path.body).toBe(400);
    expect(path.json().error).toMatchObject({ code: "nul_character", field: "params.id" });
    const bulk = await as("admin", "POST", "/v1/tags/bulk", {
      action: "add",
      entityType: "user",
      tag: "beta",
      ids: ["u1", "u2\u0000"],
    });
    expect(bulk.statusCode, bulk.body).toBe(400);
    expect(bulk.json().error).toMatchObject({ field: "body.ids[1]" });
    const file = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/imports/tags",
      headers: { "content-type": "text/csv" },
      payload: "user_id,tag##beta\nu1,1\nu2\u0000,1\n",
    });
    expect(file.statusCode, file.body).toBe(400);
    expect(file.body).toContain("NUL");
  });

  it("refuses a lone surrogate escape in a JSON body, naming the field", async () => {
    const bulk = await as("admin", "POST", "/v1/tags/bulk", {
      action: "add",
      entityType: "user",
      tag: "beta",
      ids: ["u1", "u2\ud800"],
    });
    expect(bulk.statusCode, bulk.body).toBe(400);
    expect(bulk.json().error).toMatchObject({ code: "lone_surrogate", field: "body.ids[1]" });
  });

  it("answers a suppression id past 2^31 with a 400, not a 500", async () => {
    const res = await as("editor", "DELETE", "/v1/suppressions/2147483648");
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.field).toBe("params.id");
  });

  it("refuses year 0 and impossible dates instead of shifting them", async () => {
    const segment = await as("viewer", "POST", "/v1/segments/users/query", {
      conditions: { all: [test] },
      asOf: "0000-01-01T00:00:00Z",
    });
    expect(segment.statusCode, segment.body).toBe(400);
    expect(segment.json().error.field).toBe("body.asOf");
    const run = await as("admin", "POST", "/v1/runs", {
      asOf: "0000-01-01T00:00:00Z",
      rules: ["power-users"],
    });
    expect(run.statusCode, run.body).toBe(400);
    const members = await as("viewer", "GET", "/v1/tags/beta/users?asOf=0000-01-01");
    expect(members.statusCode, members.body).toBe(400);
    const suppression = await as("editor", "POST", "/v1/users/u1/suppressions", {
      tag: "beta",
      until: "2027-02-30",
    });
    expect(suppression.statusCode, suppression.body).toBe(400);
    expect(suppression.json().error.field).toBe("body.until");
  });

  it("refuses tag names with line breaks, bidi overrides or zero-width characters", async () => {
    for (const tag of ["fake\nline", "evil\u202egnp", "new\u200buser", "x\ufeffy", "a\u200db"]) {
      const res = await as("editor", "POST", "/v1/users/u1/tags", { tag });
      expect(res.statusCode, `${JSON.stringify(tag)}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe("invalid_tag_name");
    }
  });

  it("makes names that look the same one tag (NFC)", async () => {
    expect((await as("editor", "POST", "/v1/users/u1/tags", { tag: "cafe\u0301" })).statusCode).toBe(200);
    expect((await as("editor", "POST", "/v1/users/u2/tags", { tag: "caf\u00e9" })).statusCode).toBe(200);
    const tags = await rows<{ name: string }>(t.database.db, sql`select name from tags`);
    expect(tags.map((r) => r.name)).toEqual(["caf\u00e9"]);
  });
});

describe.skipIf(backendUnavailable())("CSV exports neutralise values a spreadsheet would run", () => {
  const t = useTestDatabase();
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]) } });

  it("prefixes formulas with a quote in the segment CSV", async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-0" });
    await t.database.db.execute(sql`
      insert into users (id, account_id, email, name, created_at)
      values ('+evil', 'acc-0', 'e@example.com', ${"=cmd|' /C calc'!A0"}, '2025-01-01T00:00:00Z')`);
    const keys = await api.createKeys();
    const tagged = await api.call(keys.editor, {
      method: "POST",
      url: "/v1/users/%2Bevil/tags",
      payload: { tag: "@risk" },
    });
    expect(tagged.statusCode, tagged.body).toBe(200);
    const res = await api.call(keys.viewer, { method: "GET", url: "/v1/segments/users?format=csv" });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body.trim().split("\n")[1]).toBe(
      `"'+evil",acc-0,e@example.com,"'=cmd|' /C calc'!A0",2025-01-01T00:00:00.000Z,"'@risk"`,
    );
  });
});
