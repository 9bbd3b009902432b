/**
 * The CLI cases of `npm run bench:hostile`: import files, rule files and
 * settings with hostile content. Each is written to `dir` and run as a
 * command; a refusal must name where (`named`), a secret must not be echoed.
 */
import fs from "node:fs";
import path from "node:path";

export interface CliCase {
  group: string;
  name: string;
  command: string[];
  env?: Record<string, string>;
  /** What a refusal must say (the file's line, the pointer), when it refuses. */
  named?: RegExp;
  /** A string that must not appear in the output. */
  secret?: string;
}

/** Cell contents for a CSV field, as raw bytes of the cell. */
const CELLS: [string, Buffer][] = [
  ["a NUL character", Buffer.from("a\u0000b")],
  ["invalid UTF-8", Buffer.from([0x61, 0xff, 0xfe, 0x62])],
  ["5 MB", Buffer.from("x".repeat(5_000_000))],
  ["an unterminated quote", Buffer.from('"abc')],
  ["a formula", Buffer.from("=cmd|' /C calc'!A0")],
  ["SQL", Buffer.from("x'); drop table users; --")],
  ["a bidi override", Buffer.from("\u202eevil")],
  ["year 0", Buffer.from("0000-01-01T00:00:00Z")],
  ["February 30", Buffer.from("2027-02-30")],
  ["a negative count", Buffer.from("-5")],
  ["2^63", Buffer.from("9223372036854775808")],
];

const HEADERS: Record<string, { header: string; row: string[]; fields: string[] }> = {
  accounts: {
    header: "id,provisioned_at,name,health_score,plan",
    row: ["acc-h1", "2026-01-01T00:00:00Z", "Hostile", "50", "gold"],
    fields: ["id", "provisioned_at", "name", "health_score", "plan"],
  },
  users: {
    header: "id,account_id,created_at,email,name",
    row: ["usr-h1", "acc-h1", "2026-01-01T00:00:00Z", "h@example.com", "H"],
    fields: ["id", "account_id", "created_at", "email", "name"],
  },
  events: {
    header: "user_id,activity,occurred_at,module,count,event_id",
    row: ["usr-h1", "login", "2026-01-02T00:00:00Z", "core", "1", "ev-h1"],
    fields: ["user_id", "activity", "occurred_at", "module", "count", "event_id"],
  },
};

/** JSON values for NDJSON fields and rule files, as text. */
const JSON_VALUES: [string, string][] = [
  ["a NUL character", JSON.stringify("a\u0000b")],
  ["nested 10,000 deep", `${"[".repeat(10_000)}1${"]".repeat(10_000)}`],
  ["a lone surrogate", '"\\ud800"'],
  ["__proto__", '{"__proto__":{"polluted":true}}'],
  ["1e308", "1e308"],
];

export function cliCases(dir: string, databaseUrl: string): CliCase[] {
  const cases: CliCase[] = [];
  let n = 0;
  const file = (ext: string, content: Buffer | string) => {
    const p = path.join(dir, `case-${++n}.${ext}`);
    fs.writeFileSync(p, content);
    return p;
  };
  // A file's problem names its line, or for a header its column.
  const line = /line \d+|row \d+|column \d+/i;

  // The accounts are imported first so that users and events files reach their own checks.
  const base = file("csv", `${HEADERS.accounts!.header}\n${HEADERS.accounts!.row.join(",")}\n`);
  cases.push({ group: "import files", name: "a plain accounts file", command: ["import", "accounts", base] });

  for (const [kind, { header, row, fields }] of Object.entries(HEADERS)) {
    for (let i = 0; i < fields.length; i++) {
      for (const [what, cell] of CELLS) {
        const cells: Buffer[] = row.map((c) => Buffer.from(c));
        cells[i] = cell;
        const body = Buffer.concat([
          Buffer.from(`${header}\n`),
          Buffer.concat(cells.flatMap((c, j) => (j === 0 ? [c] : [Buffer.from(","), c]))),
          Buffer.from("\n"),
        ]);
        cases.push({
          group: "import files",
          name: `${kind} CSV: ${fields[i]} = ${what}`,
          command: ["import", kind, file("csv", body)],
          named: line,
        });
      }
    }
    for (const [what, value] of JSON_VALUES) {
      const record = Object.fromEntries(fields.map((f, j) => [f, row[j]]));
      const text = JSON.stringify({ ...record, extra: 0 }).replace('"extra":0', `"extra":${value}`);
      cases.push({
        group: "import files",
        name: `${kind} NDJSON: an attribute = ${what}`,
        command: ["import", kind, file("ndjson", `${text}\n`)],
        named: line,
      });
    }
  }
  for (const [what, content] of [
    ["an empty file", ""],
    ["a header only", "id,provisioned_at\n"],
    ["a duplicated header", "id,id,provisioned_at\nacc-x,acc-y,2026-01-01T00:00:00Z\n"],
    ["binary garbage", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    [
      "10,000 columns",
      `id,provisioned_at,${Array.from({ length: 10_000 }, (_, i) => `c${i}`).join(",")}\nacc-c,2026-01-01T00:00:00Z${",v".repeat(10_000)}\n`,
    ],
  ] as const) {
    cases.push({
      group: "import files",
      name: `accounts CSV: ${what}`,
      command: ["import", "accounts", file("csv", content)],
    });
  }
  for (const [what, id] of [
    ["a NUL id", "usr-h1\u0000"],
    ["a bidi tag", "usr-h1"],
  ] as const) {
    const tag = what === "a bidi tag" ? "tag##\u202eevil" : "tag##beta";
    cases.push({
      group: "import files",
      name: `tags CSV: ${what}`,
      command: ["import", "tags", file("csv", `user_id,${tag}\n${id},yes\n`)],
      named: line,
    });
  }

  // Rule files: each alone in a rules directory, validated and run.
  const rule = {
    id: "hostile",
    name: "Hostile",
    tag: "hostile",
    target: "user",
    enabled: true,
    conditions: { all: [{ fact: "activeDays", params: { days: 30 }, operator: "greaterThan", value: 1 }] },
  };
  const ruleTexts: [string, string][] = [
    ["invalid JSON", '{"id": "hostile",'],
    ["nested 3,000 deep", `{"id":"hostile","x":${"[".repeat(3000)}1${"]".repeat(3000)}}`],
    [
      "5,000 conditions",
      JSON.stringify({
        ...rule,
        conditions: { any: Array.from({ length: 5000 }, () => rule.conditions.all[0]) },
      }),
    ],
    ["a bidi tag", JSON.stringify({ ...rule, tag: "\u202eevil" })],
    ["a NUL tag", JSON.stringify({ ...rule, tag: "a\u0000b" })],
    [
      "an unknown fact",
      JSON.stringify({ ...rule, conditions: { all: [{ fact: "nope", operator: "equal", value: 1 }] } }),
    ],
    ["__proto__ keys", JSON.stringify(rule).replace('"id"', '"__proto__":{"enabled":false},"id"')],
    ["a 20 MB file", JSON.stringify({ ...rule, description: "x".repeat(20_000_000) })],
  ];
  for (const [what, text] of ruleTexts) {
    const rules = path.join(dir, `rules-${++n}`);
    fs.mkdirSync(rules);
    fs.writeFileSync(path.join(rules, "hostile.json"), text);
    for (const command of [["rules", "validate", rules], ["run"]]) {
      cases.push({
        group: "rule files",
        name: `${command.slice(0, 2).join(" ")}: ${what}`,
        command,
        env: { SIGNALTAG_RULES_DIR: rules },
        named: /hostile\.json/,
      });
    }
  }

  // Settings that carry a secret: a refusal never echoes it.
  const secret = "s3cret-never-shown";
  for (const [what, env] of [
    ["a mysql DATABASE_URL", { DATABASE_URL: `mysql://user:${secret}@db.example/x` }],
    ["an unreachable DATABASE_URL", { DATABASE_URL: `postgres://user:${secret}@127.0.0.1:1/x` }],
    ["a malformed DATABASE_URL", { DATABASE_URL: `postgres://user:${secret}@[bad/x` }],
    ["an unreachable REDIS_URL", { REDIS_URL: `redis://:${secret}@127.0.0.1:1` }],
    ["a malformed REDIS_URL", { REDIS_URL: `redis://:${secret}@` }],
  ] as const) {
    for (const command of [["tags", "list"], ["enqueue", "run"], ["status"]]) {
      cases.push({ group: "settings", name: `${command.join(" ")} with ${what}`, command, env, secret });
    }
  }
  for (const [what, args] of [
    ["--as-of year 0", ["run", "--dry-run", "--as-of", "0000-01-01T00:00:00Z"]],
    ["--as-of February 30", ["tags", "members", "power users", "users", "--as-of", "2027-02-30"]],
    ["an unknown entity type", ["profile", "gizmo", "x"]],
    ["a 100 KB id", ["profile", "user", "x".repeat(100_000)]],
    ["a bidi tag", ["tag", "add", "user", "usr-h1", "\u202eevil"]],
  ] as const) {
    cases.push({ group: "arguments", name: what, command: [...args], env: { DATABASE_URL: databaseUrl } });
  }
  return cases;
}
