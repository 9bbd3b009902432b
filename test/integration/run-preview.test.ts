import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import {
  addAccount,
  addActivity,
  addUser,
  lastDays,
  powerUsersRule,
  rulesDir,
} from "../helpers/workspace.ts";

const before = "2026-03-01";
const now = "2026-03-31";

/** Parses a diff file: one object per line after the header (no field here holds a quote). */
function parseCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trimEnd().split("\n");
  const names = header!.split(",");
  return lines.map((line) => {
    const fields: string[] = [];
    for (const m of line.matchAll(/("((?:[^"]|"")*)"|[^,]*)(,|$)/g)) {
      if (m.index === line.length && fields.length === names.length) break;
      fields.push(m[2] === undefined ? m[1]! : m[2].replaceAll('""', '"'));
    }
    return Object.fromEntries(names.map((n, i) => [n, fields[i] ?? ""]));
  });
}

describe.skipIf(backendUnavailable())("previewing a run", () => {
  const t = useTestDatabase();
  const dir = rulesDir([powerUsersRule()]);
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: dir } });
  let keys: Awaited<ReturnType<typeof api.createKeys>>;
  const cli = (...args: string[]) => runCli(t.database, args, { SIGNALTAG_RULES_DIR: dir });

  beforeAll(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    // u1 stays a power user, u2..u6 stop being one, u7 and u8 become one.
    for (let i = 1; i <= 8; i++) await addUser(t.database, { id: `u${i}`, accountId: "acc-1" });
    for (let i = 1; i <= 6; i++) {
      await addActivity(t.database, { userId: `u${i}`, accountId: "acc-1", days: lastDays(before, 22) });
    }
    for (const id of ["u1", "u7", "u8"]) {
      await addActivity(t.database, { userId: id, accountId: "acc-1", days: lastDays(now, 21) });
    }
    keys = await api.createKeys();
    const first = await cli("run", "--as-of", `${before}T12:00:00Z`);
    expect(first.stdout).toMatch(/power-users\s.*applied/);
  });

  it("explains an entity with the rule's name and each condition in words next to the exact line", async () => {
    const out = await cli("explain", "user", "u1", "--as-of", `${now}T12:00:00Z`);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('rule power-users ("Power users") -> "power users": matched');
    expect(out.stdout).toContain('✓ activeDays{"days":30} = 21  (greaterThanInclusive 20)');
    expect(out.stdout).toContain(
      "at least 20 active days in the last 30 days: yes, active on 21 of the last 30 days",
    );
    const json = JSON.parse(
      (await cli("explain", "user", "u2", "--as-of", `${now}T12:00:00Z`, "--json")).stdout,
    );
    expect(json.rules[0]).toMatchObject({
      rule: "power-users",
      name: "Power users",
      conditions: {
        all: [
          {
            fact: "activeDays",
            factValue: 0,
            result: false,
            words: {
              condition: "at least 20 active days in the last 30 days",
              actual: "active on 0 of the last 30 days",
            },
          },
        ],
      },
    });
  });

  it("shows dry-run samples in words, as many as asked, and says the real run would be held", async () => {
    const out = await cli("run", "--dry-run", "--as-of", `${now}T12:00:00Z`, "--samples", "1");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(
      "would be held: power-users would remove 5 of 6 claims (more than 50 %); run with --force to apply",
    );
    expect(out.stdout).toContain('power-users ("Power users"): would add "power users" (1 of 2 shown)');
    expect(out.stdout).toContain('power-users ("Power users"): would remove "power users" (1 of 5 shown)');
    expect(out.stdout).toContain(
      "at least 20 active days in the last 30 days: no, active on 0 of the last 30 days",
    );
    const json = JSON.parse((await cli("run", "--dry-run", "--as-of", `${now}T12:00:00Z`, "--json")).stdout);
    expect(json).toMatchObject({
      name: "Power users",
      status: "dry-run",
      added: 2,
      removed: 5,
      wouldBeHeld: expect.stringContaining("would remove 5 of 6 claims"),
    });
    expect(json.samples.removed).toHaveLength(5);
    expect(json.samples.added[0].explanation).toMatchObject({ ruleName: "Power users" });
    const forced = await cli("run", "--dry-run", "--force", "--as-of", `${now}T12:00:00Z`);
    expect(forced.stdout).not.toContain("would be held");
  });

  it("refuses --diff and --samples without --dry-run, and a bad count", async () => {
    const diff = await cli("run", "--diff", path.join(os.tmpdir(), "never.csv"));
    expect(diff.code).not.toBe(0);
    expect(diff.stderr).toContain("--diff previews a run: use it with --dry-run");
    const bad = await cli("run", "--dry-run", "--samples", "many");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--samples must be a whole number of at least 0, not "many"');
  });

  it("offers the same preview over the API: the diff as JSON or CSV, and the samples asked for", async () => {
    const preview = (payload: object, headers: Record<string, string> = {}) =>
      api.call(keys.admin, { method: "POST", url: "/v1/runs", payload, headers });
    const asOf = `${now}T12:00:00Z`;
    const json = await preview({ asOf, dryRun: true, diff: true });
    expect(json.statusCode).toBe(200);
    const body = json.json();
    expect(body.results[0]).toMatchObject({
      status: "dry-run",
      added: 2,
      removed: 5,
      wouldBeHeld: expect.any(String),
    });
    expect(body.diff.map((c: { change: string; entityId: string }) => `${c.change} ${c.entityId}`)).toEqual([
      "add u7",
      "add u8",
      "remove u2",
      "remove u3",
      "remove u4",
      "remove u5",
      "remove u6",
    ]);
    expect(body.diff[2]).toMatchObject({
      entityType: "user",
      tag: "power users",
      words: "at least 20 active days in the last 30 days: no, active on 0 of the last 30 days",
      explanation: { ruleName: "Power users", conditions: { all: [{ fact: "activeDays", factValue: 0 }] } },
    });
    const csv = await preview({ asOf, dryRun: true }, { accept: "text/csv" });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toContain("text/csv");
    const rowsOf = parseCsv(csv.body);
    expect(rowsOf.map((r) => `${r.change} ${r.entity_id}`)).toEqual(
      body.diff.map((c: { change: string; entityId: string }) => `${c.change} ${c.entityId}`),
    );
    const sampled = (await preview({ asOf, dryRun: true, samples: 2 })).json();
    expect(sampled.results[0].samples.removed).toHaveLength(2);
    expect(sampled.results[0].samples.removed[0].explanation).toMatchObject({
      ruleName: "Power users",
      conditions: { all: [{ words: { actual: "active on 0 of the last 30 days" } }] },
    });
    const refused = await preview({ asOf, diff: true });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.message).toContain("set body.dryRun to true");
  });

  it("writes a diff file equal, row for row, to what the real run then changes", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-diff-")), "diff.csv");
    const dry = await cli(
      "run",
      "--dry-run",
      "--rule",
      "power-users",
      "--as-of",
      `${now}T12:00:00Z`,
      "--diff",
      file,
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`wrote 7 changes to ${file}`);
    const text = fs.readFileSync(file, "utf8");
    expect(text.split("\n")[0]).toBe("entity_type,entity_id,tag,change,explanation");
    const diff = parseCsv(text);
    expect(diff.find((r) => r.entity_id === "u7")).toEqual({
      entity_type: "user",
      entity_id: "u7",
      tag: "power users",
      change: "add",
      explanation: "at least 20 active days in the last 30 days: yes, active on 21 of the last 30 days",
    });

    const real = await cli(
      "run",
      "--force",
      "--rule",
      "power-users",
      "--as-of",
      `${now}T12:00:00Z`,
      "--json",
    );
    const runId = JSON.parse(real.stdout).runId as number;
    const events = await rows<{ entity_type: string; entity_id: string; tag: string; change: string }>(
      t.database.db,
      sql`select e.entity_type, e.entity_id, t.name as tag,
                 case e.action when 'added' then 'add' else 'remove' end as change
          from tag_events e join tags t on t.id = e.tag_id
          where e.run_id = ${runId} order by e.action, e.entity_id`,
    );
    expect(events).toHaveLength(7);
    expect(diff.map(({ explanation: _e, ...r }) => r)).toEqual(events);
  });

  it("shows history and profiles with the rule's name and its conditions in words", async () => {
    // After the real run above: u7 gained the tag, u2 lost it.
    const words = "at least 20 active days in the last 30 days: yes, active on 21 of the last 30 days";
    const history = await cli("history", "user", "u7");
    expect(history.stdout).toMatch(
      /gained the tag: rule power-users version \w+ as of .*activeDays\{"days":30\} = 21/,
    );
    expect(history.stdout).toContain(`    Power users: ${words}`);
    const lost = await cli("history", "user", "u2");
    expect(lost.stdout).toContain(
      "    Power users: at least 20 active days in the last 30 days: no, active on 0 of the last 30 days",
    );
    const profile = await cli("profile", "user", "u7");
    expect(profile.stdout).toContain(
      `why:\n  power users: rule power-users ("Power users") as of ${now}T12:00:00.000Z\n    ${words}\n`,
    );

    const get = (url: string) => api.call(keys.viewer, { method: "GET", url });
    const entries = (await get("/v1/users/u7/history")).json().entries;
    expect(entries[0]).toMatchObject({
      rule: { id: "power-users", name: "Power users" },
      because: [words],
      explanation: {
        conditions: {
          all: [{ fact: "activeDays", factValue: 21, words: { actual: "active on 21 of the last 30 days" } }],
        },
      },
    });
    const tags = (await get("/v1/users/u7")).json().tags;
    expect(tags).toEqual([
      {
        name: "power users",
        claims: [
          expect.objectContaining({
            source: "rule:power-users",
            rule: { id: "power-users", name: "Power users", asOf: `${now}T12:00:00.000Z`, because: [words] },
          }),
        ],
      },
    ]);
  });
});
