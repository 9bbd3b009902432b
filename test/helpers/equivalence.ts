import { sql } from "drizzle-orm";
import fc from "fast-check";
import type { Database } from "../../src/db/client.ts";
import { rows } from "../../src/db/client.ts";
import { computeFacts } from "../../src/facts/compute.ts";
import { loadEntityBatch } from "../../src/facts/sql/entity-batch.ts";
import { addDays, calendarDate } from "../../src/facts/time.ts";
import { orderByDependencies, ruleVersion } from "../../src/rules/load.ts";
import type { LoadedRule, RuleDefinition } from "../../src/rules/types.ts";
import { validateRuleObject } from "../../src/rules/validate.ts";
import { compileRule } from "../../src/runs/compile.ts";
import { claimedAfter, decide } from "../../src/runs/decide.ts";
import { RuleEvaluator } from "../../src/runs/evaluate.ts";
import { expandExplanation, isCompactExplanation } from "../../src/runs/explanation.ts";

/**
 * Random workspaces and random rules over the fact catalog, and the two
 * evaluation paths run on both: the compiled SQL statement and
 * json-rules-engine per entity. The property: they agree on every entity.
 */
export interface Workspace {
  asOf: string;
  timezone: string;
  accounts: {
    id: string;
    provisionedOffset: number;
    contractStatus: string | null;
    renewalOffset: number | null;
    healthScore: number | null;
    health: string | null;
    attributes: Record<string, unknown>;
  }[];
  users: { id: string; account: number; createdOffset: number; attributes: Record<string, unknown> }[];
  rollups: {
    user: number | null;
    account: number;
    dayOffset: number;
    activity: string;
    module: string;
    count: number;
  }[];
  claims: { user: number; tag: string }[];
  ruleClaims: number[];
  suppressed: number[];
}

const hostile = ["x'); drop table users;--", "🙂 émoji", "$.a", "' or 1=1 --", "\\", '"quoted"'];
const strings = fc.constantFrom("free", "pro", "enterprise", "", ...hostile);
const attrValue = fc.oneof(
  strings,
  fc.integer({ min: -5, max: 50 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("12", "7"),
);
const attributes = fc.record(
  {
    plan: attrValue,
    seats: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant("10")),
    labels: fc.array(strings, { maxLength: 3 }),
    nested: fc.record({ level: attrValue }),
    "odd key": attrValue,
  },
  { requiredKeys: [] },
);

export const workspaceArb: fc.Arbitrary<Workspace> = fc
  .record({
    asOf: fc.constantFrom(
      "2026-03-31T12:00:00Z",
      "2026-03-08T06:30:00Z",
      "2026-01-01T00:30:00Z",
      "2026-11-01T23:59:00Z",
    ),
    timezone: fc.constantFrom("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"),
    accountCount: fc.integer({ min: 1, max: 5 }),
    userCount: fc.integer({ min: 0, max: 12 }),
  })
  .chain(({ asOf, timezone, accountCount, userCount }) =>
    fc.record({
      asOf: fc.constant(asOf),
      timezone: fc.constant(timezone),
      accounts: fc.array(
        fc.record({
          id: fc.constant(""),
          provisionedOffset: fc.integer({ min: -45, max: 3 }),
          contractStatus: fc.constantFrom("trial", "paying", "churned", null),
          renewalOffset: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.constant(null)),
          healthScore: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(null)),
          health: fc.constantFrom("good", "average", "poor", null),
          attributes,
        }),
        { minLength: accountCount, maxLength: accountCount },
      ),
      users: fc.array(
        fc.record({
          id: fc.constant(""),
          account: fc.integer({ min: 0, max: accountCount - 1 }),
          createdOffset: fc.integer({ min: -45, max: 3 }),
          attributes,
        }),
        { minLength: userCount, maxLength: userCount },
      ),
      rollups: fc.array(
        fc.record({
          user:
            userCount > 0
              ? fc.oneof(fc.integer({ min: 0, max: userCount - 1 }), fc.constant(null))
              : fc.constant(null),
          account: fc.integer({ min: 0, max: accountCount - 1 }),
          dayOffset: fc.integer({ min: -40, max: 3 }),
          activity: fc.constantFrom("login", "export", hostile[0]!),
          module: fc.constantFrom("", "reports", "admin"),
          count: fc.integer({ min: 1, max: 5 }),
        }),
        { maxLength: 60 },
      ),
      claims: fc.array(
        fc.record({
          user: fc.integer({ min: 0, max: Math.max(0, userCount - 1) }),
          tag: fc.constantFrom("VIP", "beta", hostile[0]!),
        }),
        { maxLength: userCount > 0 ? 6 : 0 },
      ),
      ruleClaims: fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 6 }),
      suppressed: fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 2 }),
    }),
  )
  .map((w) => ({
    ...w,
    accounts: w.accounts.map((a, i) => ({ ...a, id: `a${i}` })),
    users: w.users.map((u, i) => ({ ...u, id: `u${i}` })),
  }));

const num = (min: number, max: number) => fc.integer({ min, max });
const numericOp = fc.constantFrom(
  "lessThan",
  "lessThanInclusive",
  "greaterThan",
  "greaterThanInclusive",
  "equal",
  "notEqual",
);

function leafArb(target: "user" | "account"): fc.Arbitrary<Record<string, unknown>> {
  // Any window, but often one of two, so that a rule's leaves share a window (one aggregate of its rows).
  const window = fc.oneof(num(1, 35), fc.constantFrom(7, 30));
  const numeric = (fact: string, min: number, max: number, params?: fc.Arbitrary<Record<string, unknown>>) =>
    fc.record({
      fact: fc.constant(fact),
      ...(params ? { params } : {}),
      operator: numericOp,
      value: num(min, max),
    });
  const common = [
    numeric("activeDays", 0, 25, fc.record({ days: window })),
    fc.record({
      fact: fc.constant("daysSinceLastActive"),
      operator: numericOp,
      value: fc.oneof(num(0, 40), fc.constant(null)),
    }),
    numeric(
      "eventCount",
      0,
      30,
      fc.record(
        {
          days: window,
          activity: fc.constantFrom("login", "export", hostile[0]!),
          module: fc.constantFrom("reports", "admin"),
        },
        { requiredKeys: ["days"] },
      ),
    ),
    fc.record({
      fact: fc.constant("modulesUsed"),
      params: fc.record({ days: window }),
      operator: fc.constantFrom("contains", "doesNotContain"),
      value: fc.constantFrom("reports", "admin", "billing"),
    }),
    fc.record({
      fact: fc.constant("tags"),
      operator: fc.constantFrom("contains", "doesNotContain"),
      value: fc.constantFrom("vip", "Beta", hostile[0]!),
    }),
    fc.record({
      fact: fc.constant("attributes"),
      path: fc.constantFrom("$.plan", "$.seats", "$.labels", "$.nested.level", "$['odd key']", "$.missing"),
      operator: fc.constantFrom(
        "equal",
        "notEqual",
        "in",
        "notIn",
        "contains",
        "doesNotContain",
        "greaterThan",
        "lessThanInclusive",
      ),
      value: fc.oneof(
        strings,
        num(0, 20),
        fc.constant(null),
        fc.array(fc.oneof(strings, num(0, 20)), { maxLength: 3 }),
      ),
    }),
  ];
  const users = [
    numeric("daysSinceCreated", 0, 45),
    fc.record({
      fact: fc.constant("account"),
      path: fc.constantFrom(
        "$.contractStatus",
        "$.health",
        "$.healthScore",
        "$.attributes.plan",
        "$.renewalDate",
      ),
      operator: fc.constantFrom("equal", "notEqual", "in", "greaterThanInclusive"),
      value: fc.oneof(
        fc.constantFrom("paying", "poor", "pro"),
        num(0, 100),
        fc.constant(null),
        fc.constant(["paying", "trial"]),
      ),
    }),
  ];
  const accounts = [
    numeric("daysSinceProvisioned", 0, 45),
    numeric("activeUsers", 0, 4, fc.record({ days: window })),
    numeric("userCount", 0, 5),
    numeric("healthScore", 0, 100),
    fc.record({
      fact: fc.constant("daysUntilRenewal"),
      operator: numericOp,
      value: fc.oneof(num(-5, 100), fc.constant(null)),
    }),
    fc.record({
      fact: fc.constant("contractStatus"),
      operator: fc.constantFrom("equal", "notEqual", "in", "notIn"),
      value: fc.oneof(
        fc.constantFrom("paying", "trial", "churned"),
        fc.constant(null),
        fc.constant(["paying", "trial"]),
      ),
    }),
    fc.record({
      fact: fc.constant("health"),
      operator: fc.constantFrom("equal", "notEqual", "in"),
      value: fc.oneof(
        fc.constantFrom("good", "average", "poor"),
        fc.constant(null),
        fc.constant(["poor", "average"]),
      ),
    }),
  ];
  return fc.oneof(...common, ...(target === "user" ? users : accounts));
}

function treeArb(target: "user" | "account"): fc.Arbitrary<Record<string, unknown>> {
  const { tree } = fc.letrec<{ tree: Record<string, unknown>; node: Record<string, unknown> }>((tie) => ({
    tree: fc.oneof(
      fc.record({ all: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }),
      fc.record({ any: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }),
      fc.record({ not: tie("node") }),
    ),
    node: fc.oneof({ depthSize: "small", withCrossShrink: true }, leafArb(target), tie("tree")),
  }));
  return tree;
}

export const ruleArb: fc.Arbitrary<RuleDefinition> = fc
  .constantFrom<"user" | "account">("user", "account")
  .chain((target) =>
    fc.record({
      target: fc.constant(target),
      conditions: treeArb(target),
      exitConditions: fc.option(treeArb(target), { nil: undefined }),
    }),
  )
  .map(
    ({ target, conditions, exitConditions }) =>
      ({
        id: "generated",
        name: "Generated",
        tag: "generated",
        target,
        enabled: true,
        conditions,
        ...(exitConditions ? { exitConditions } : {}),
      }) as RuleDefinition,
  )
  // Only rules that pass validation can ever run; those are the ones the two paths must agree on.
  .filter((rule) => validateRuleObject(rule, "generated.json").problems.length === 0);

/**
 * Rules whose leaves all read one window of rollups (30 days): counts of
 * events with or without an activity or module, and the modules used, under
 * one all or any, with thresholds low enough to fall either way.
 */
export const sharedWindowRuleArb: fc.Arbitrary<RuleDefinition> = fc
  .record({
    target: fc.constantFrom<"user" | "account">("user", "account"),
    combine: fc.constantFrom("all", "any"),
    leaves: fc.array(
      fc.oneof(
        fc.record({
          fact: fc.constant("eventCount"),
          params: fc.record(
            {
              days: fc.constant(30),
              activity: fc.constantFrom("login", "export", hostile[0]!),
              module: fc.constantFrom("reports", "admin"),
            },
            { requiredKeys: ["days"] },
          ),
          operator: fc.constantFrom("greaterThan", "lessThanInclusive"),
          value: num(0, 4),
        }),
        fc.record({
          fact: fc.constant("modulesUsed"),
          params: fc.constant({ days: 30 }),
          operator: fc.constantFrom("contains", "doesNotContain"),
          value: fc.constantFrom("reports", "admin"),
        }),
      ),
      { minLength: 2, maxLength: 4 },
    ),
  })
  .map(
    ({ target, combine, leaves }) =>
      ({
        id: "generated",
        name: "Generated",
        tag: "generated",
        target,
        enabled: true,
        conditions: combine === "all" ? { all: leaves } : { any: leaves },
      }) as unknown as RuleDefinition,
  );

function instantAt(asOf: string, offsetDays: number): string {
  return new Date(
    Date.parse(asOf) + offsetDays * 86_400_000 + 3_600_000 * ((offsetDays * 7) % 11),
  ).toISOString();
}

export async function loadWorkspace(database: Database, w: Workspace): Promise<void> {
  const db = database.db;
  await db.execute(
    sql.raw(
      "TRUNCATE accounts, users, activity_events, activity_daily, tags, claims, tag_events, suppressions RESTART IDENTITY CASCADE",
    ),
  );
  const today = calendarDate(new Date(w.asOf), w.timezone);
  for (const a of w.accounts) {
    await db.execute(sql`insert into accounts (id, name, provisioned_at, contract_status, renewal_date, health_score, health, attributes)
      values (${a.id}, ${a.id}, ${instantAt(w.asOf, a.provisionedOffset)}::timestamptz, ${a.contractStatus},
        ${a.renewalOffset === null ? null : addDays(today, a.renewalOffset)}::date, ${a.healthScore}, ${a.health},
        ${JSON.stringify(a.attributes)}::jsonb)`);
  }
  for (const u of w.users) {
    await db.execute(sql`insert into users (id, account_id, created_at, attributes)
      values (${u.id}, ${`a${u.account}`}, ${instantAt(w.asOf, u.createdOffset)}::timestamptz, ${JSON.stringify(u.attributes)}::jsonb)`);
  }
  const rollup = new Map<
    string,
    { type: string; id: string; day: string; activity: string; module: string; count: number }
  >();
  const add = (type: string, id: string, r: Workspace["rollups"][number]) => {
    const day = addDays(today, r.dayOffset);
    const key = JSON.stringify([type, id, day, r.activity, r.module]);
    const prev = rollup.get(key);
    if (prev) prev.count += r.count;
    else rollup.set(key, { type, id, day, activity: r.activity, module: r.module, count: r.count });
  };
  for (const r of w.rollups) {
    const user = r.user === null ? undefined : w.users[r.user];
    add("account", user ? `a${user.account}` : `a${r.account}`, r);
    if (user) add("user", user.id, r);
  }
  if (rollup.size > 0) {
    await db.execute(
      sql`insert into activity_daily (entity_type, entity_id, day, activity, module, count) values ${sql.join(
        [...rollup.values()].map(
          (r) => sql`(${r.type}, ${r.id}, ${r.day}::date, ${r.activity}, ${r.module}, ${r.count})`,
        ),
        sql`, `,
      )}`,
    );
  }
  for (const name of ["VIP", "beta", "x'); drop table users;--", "generated"]) {
    await db.execute(sql`insert into tags (name) values (${name}) on conflict do nothing`);
  }
  for (const c of w.claims) {
    if (!w.users[c.user]) continue;
    await db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
      select 'manual', id, 'user', ${w.users[c.user]!.id} from tags where name = ${c.tag} on conflict do nothing`);
  }
}

/** Ids of each entity type that the rule's claims and suppressions name in this workspace. */
export async function addRuleClaims(database: Database, w: Workspace, rule: RuleDefinition): Promise<void> {
  const db = database.db;
  await db.execute(sql`delete from claims where source = 'rule:generated'`);
  await db.execute(sql`delete from suppressions`);
  const ids = rule.target === "user" ? w.users.map((u) => u.id) : w.accounts.map((a) => a.id);
  const pick = (i: number) => ids[i % Math.max(1, ids.length)];
  for (const i of w.ruleClaims) {
    if (ids.length === 0) break;
    await db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
      select 'rule:generated', id, ${rule.target}, ${pick(i)} from tags where name = 'generated' on conflict do nothing`);
  }
  for (const i of w.suppressed) {
    if (ids.length === 0) break;
    await db.execute(sql`insert into suppressions (tag_id, entity_type, entity_id, rule_id)
      select id, ${rule.target}, ${pick(i)}, 'generated' from tags where name = 'generated'`);
  }
}

export interface PathResults {
  compiled: Record<string, boolean>;
  reference: Record<string, boolean>;
}

/** Whether each entity should have the rule's tag, by each path. */
export async function bothPaths(
  database: Database,
  w: Workspace,
  rule: RuleDefinition,
): Promise<PathResults> {
  const db = database.db;
  const asOf = new Date(w.asOf);
  const today = calendarDate(asOf, w.timezone);
  const [tag] = await rows<{ id: number }>(db, sql`select id from tags where name = 'generated'`);
  const compiled = compileRule(rule);
  if (!compiled.ok) throw new Error(`did not compile: ${compiled.reason}`);
  const fast = await rows<{ id: string; want: boolean; explanation: unknown }>(
    db,
    compiled.rule.evaluation(
      { type: rule.target, asOf, today, timezone: w.timezone },
      { source: "rule:generated", tagId: tag?.id ?? null, ruleId: "generated" },
    ),
  );
  const loaded: LoadedRule = { definition: rule, version: ruleVersion(rule), file: "generated.json" };
  // Each stored explanation, read whole against the rule, says what the statement decided: its leaves line
  // up with the rule's conditions (a leaf out of place would give a different outcome).
  for (const r of fast) {
    if (r.explanation === null) continue;
    if (!isCompactExplanation(r.explanation)) throw new Error(`not a compact explanation: ${r.id}`);
    const whole = expandExplanation(rule, r.explanation, {
      rule: rule.id,
      version: loaded.version,
      asOf: w.asOf,
    });
    const outcome = (c: unknown) => (c as { result?: boolean } | undefined)?.result;
    if (
      !whole ||
      outcome(whole.conditions) !== r.explanation.matched ||
      (rule.exitConditions !== undefined && outcome(whole.exitConditions) !== r.explanation.exitMatched)
    )
      throw new Error(`explanation of ${r.id} does not read back: ${JSON.stringify(r.explanation)}`);
  }
  const evaluator = new RuleEvaluator(loaded);
  const batch = await loadEntityBatch(
    db,
    { type: rule.target, asOf, today, timezone: w.timezone, requests: evaluator.requests },
    { after: null, limit: 1000 },
  );
  const claimed = new Set(
    (
      await rows<{ entity_id: string }>(db, sql`select entity_id from claims where source = 'rule:generated'`)
    ).map((r) => r.entity_id),
  );
  const suppressed = new Set(
    (await rows<{ entity_id: string }>(db, sql`select entity_id from suppressions`)).map((r) => r.entity_id),
  );
  const reference: Record<string, boolean> = {};
  for (const e of batch) {
    const evaluation = await evaluator.evaluate(computeFacts(e, evaluator.requests, today));
    reference[e.id] = claimedAfter(
      decide({
        matched: evaluation.matched,
        exitMatched: evaluation.exitMatched,
        held: claimed.has(e.id),
        suppressed: suppressed.has(e.id),
      }),
    );
  }
  return { compiled: Object.fromEntries(fast.map((r) => [r.id, r.want])), reference };
}

/**
 * Two generated rules and one that tests the first one's tag, so the order
 * between them matters; "follows" sorts before "gen-a" by id, so only the
 * dependency order runs it after.
 */
export function ruleSet(a: RuleDefinition, b: RuleDefinition, type: "user" | "account"): LoadedRule[] {
  const defs: RuleDefinition[] = [
    { ...a, id: "gen-a", name: "A", tag: "Gen A", target: type },
    { ...b, id: "gen-b", name: "B", tag: "generated", target: type },
    {
      id: "follows",
      name: "Follows A",
      tag: "VIP",
      target: type,
      enabled: true,
      conditions: { all: [{ fact: "tags", operator: "contains", value: "gen a" }] },
    } as RuleDefinition,
  ];
  // A generated rule only validates for its own target: keep the ones generated for this type.
  const kept = defs.filter((_d, i) => i === 2 || (i === 0 ? a : b).target === type);
  return orderByDependencies(
    // Versions are content hashes, as for rule files: what a run wrote is read against its definition.
    kept.map((definition) => ({ definition, version: ruleVersion(definition), file: "" })),
  );
}

/** The claims and suppressions the rules start with, on entities picked by the workspace's indexes. */
export async function seedRuleState(
  database: Database,
  w: Workspace,
  type: "user" | "account",
): Promise<string[]> {
  const db = database.db;
  await db.execute(sql`truncate rule_runs restart identity`);
  await db.execute(sql`insert into tags (name) values ('Gen A') on conflict do nothing`);
  const ids = type === "user" ? w.users.map((u) => u.id) : w.accounts.map((a) => a.id);
  if (ids.length === 0) return ids;
  const pick = (i: number) => ids[i % ids.length]!;
  const sources = ["rule:gen-a", "rule:gen-b", "rule:follows"];
  const tags = ["Gen A", "generated", "VIP"];
  for (const [n, i] of w.ruleClaims.entries()) {
    const k = (i + n) % 3;
    await db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
      select ${sources[k]}, id, ${type}, ${pick(i)} from tags where name = ${tags[k]} on conflict do nothing`);
  }
  for (const [n, i] of w.suppressed.entries()) {
    await db.execute(sql`insert into suppressions (tag_id, entity_type, entity_id, rule_id)
      select id, ${type}, ${pick(i)}, ${n % 2 === 0 ? "gen-b" : null} from tags where name = 'generated'`);
  }
  return ids;
}
