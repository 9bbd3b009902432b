import { sql } from "drizzle-orm";
import fc from "fast-check";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { type Database, rows } from "../../src/db/client.ts";
import { addDays, calendarDate } from "../../src/facts/time.ts";
import type { LoadedRule, RuleDefinition } from "../../src/rules/types.ts";
import { runRule } from "../../src/runs/reconcile.ts";
import { runRules } from "../../src/runs/runner.ts";
import { expandExplanations, type StoredExplanation } from "../../src/tags/sql/history.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import {
  loadWorkspace,
  ruleArb,
  ruleSet,
  seedRuleState,
  type Workspace,
  workspaceArb,
} from "../helpers/equivalence.ts";

const cases = Number(process.env.SIGNALTAG_PROPERTY_CASES ?? (testBackend() === "postgres" ? 60 : 25));

/** One change to the workspace between two runs, written with plain SQL so only the triggers can notice it. */
type Change =
  | { op: "userAttributes"; user: number; plan: string }
  | { op: "userMove"; user: number; account: number }
  | { op: "userCreated"; user: number; offsetDays: number }
  | { op: "newUser"; account: number; minutesBefore: number }
  | { op: "deleteUser"; user: number }
  | { op: "account"; account: number; contractStatus: string | null; health: string | null; renewal: number }
  | { op: "activity"; user: number; dayOffset: number; days: number; module: string; count: number }
  | { op: "activityDelete"; user: number }
  | { op: "claimAdd"; entity: number; tag: string }
  | { op: "claimRemove"; entity: number; tag: string }
  | { op: "suppress"; entity: number; untilMinutes: number | null }
  | { op: "lift"; entity: number }
  | { op: "sameUser"; user: number };

const tagNames = ["Gen A", "generated", "VIP", "beta"];

/**
 * Rules that flip on one small change of each kind of input (random rules
 * rarely hinge on one), one of them in every case next to a random one.
 */
const leaf = (fact: string, operator: string, value: unknown, extra: Record<string, unknown> = {}) => ({
  fact,
  operator,
  value,
  ...extra,
});
const sensitive: Record<"user" | "account", Record<string, unknown>[]> = {
  user: [
    leaf("activeDays", "greaterThanInclusive", 1, { params: { days: 30 } }),
    leaf("eventCount", "greaterThanInclusive", 3, { params: { days: 30 } }),
    leaf("daysSinceLastActive", "lessThan", 3),
    leaf("modulesUsed", "contains", "reports", { params: { days: 30 } }),
    leaf("account", "equal", "paying", { path: "$.contractStatus" }),
    leaf("attributes", "equal", "pro", { path: "$.plan" }),
    leaf("daysSinceCreated", "lessThan", 1),
  ],
  account: [
    leaf("userCount", "greaterThanInclusive", 2),
    leaf("activeUsers", "greaterThanInclusive", 1, { params: { days: 30 } }),
    leaf("activeDays", "greaterThanInclusive", 2, { params: { days: 30 } }),
    leaf("health", "equal", "poor"),
    leaf("daysSinceProvisioned", "lessThan", 1),
  ],
};
const sensitiveArb = fc.record({ user: fc.nat(6), account: fc.nat(4), negate: fc.boolean() });

const activityArb = fc.record({
  op: fc.constant("activity" as const),
  user: fc.nat(11),
  dayOffset: fc.integer({ min: -40, max: 0 }),
  days: fc.integer({ min: 1, max: 4 }),
  module: fc.constantFrom("", "reports", "admin"),
  count: fc.integer({ min: 1, max: 4 }),
});

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.record({
    op: fc.constant("userAttributes" as const),
    user: fc.nat(11),
    plan: fc.constantFrom("pro", "free"),
  }),
  fc.record({ op: fc.constant("userMove" as const), user: fc.nat(11), account: fc.nat(4) }),
  fc.record({
    op: fc.constant("userCreated" as const),
    user: fc.nat(11),
    offsetDays: fc.integer({ min: -40, max: 1 }),
  }),
  fc.record({
    op: fc.constant("newUser" as const),
    account: fc.nat(4),
    minutesBefore: fc.integer({ min: 0, max: 300 }),
  }),
  fc.record({ op: fc.constant("deleteUser" as const), user: fc.nat(11) }),
  fc.record({
    op: fc.constant("account" as const),
    account: fc.nat(4),
    contractStatus: fc.constantFrom("trial", "paying", "churned", null),
    health: fc.constantFrom("good", "average", "poor", null),
    renewal: fc.integer({ min: -5, max: 100 }),
  }),
  { arbitrary: activityArb, weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("activityDelete" as const), user: fc.nat(11) }), weight: 2 },
  fc.record({ op: fc.constant("claimAdd" as const), entity: fc.nat(11), tag: fc.constantFrom(...tagNames) }),
  fc.record({
    op: fc.constant("claimRemove" as const),
    entity: fc.nat(11),
    tag: fc.constantFrom(...tagNames),
  }),
  fc.record({
    op: fc.constant("suppress" as const),
    entity: fc.nat(11),
    untilMinutes: fc.option(fc.integer({ min: -200, max: 200 }), { nil: null }),
  }),
  fc.record({ op: fc.constant("lift" as const), entity: fc.nat(11) }),
  fc.record({ op: fc.constant("sameUser" as const), user: fc.nat(11) }),
);

async function applyChange(
  database: Database,
  w: Workspace,
  type: "user" | "account",
  asOf: Date,
  change: Change,
  n: number,
): Promise<void> {
  const db = database.db;
  const users = (await rows<{ id: string }>(db, sql`select id from users order by id`)).map((r) => r.id);
  const accounts = w.accounts.map((a) => a.id);
  const user = (i: number) => users[i % Math.max(1, users.length)];
  const entities = type === "user" ? users : accounts;
  const entity = (i: number) => entities[i % Math.max(1, entities.length)];
  const today = calendarDate(asOf, w.timezone);
  const at = (minutes: number) => new Date(asOf.getTime() + minutes * 60_000).toISOString();
  switch (change.op) {
    case "userAttributes": {
      const id = user(change.user);
      if (id)
        await db.execute(
          sql`update users set attributes = attributes || ${JSON.stringify({ plan: change.plan })}::jsonb where id = ${id}`,
        );
      return;
    }
    case "userMove": {
      const id = user(change.user);
      const account = accounts[change.account % accounts.length];
      if (id) await db.execute(sql`update users set account_id = ${account} where id = ${id}`);
      return;
    }
    case "userCreated": {
      const id = user(change.user);
      if (id)
        await db.execute(
          sql`update users set created_at = ${at(change.offsetDays * 1440)}::timestamptz where id = ${id}`,
        );
      return;
    }
    case "newUser":
      await db.execute(sql`insert into users (id, account_id, created_at)
        values (${`new${n}`}, ${accounts[change.account % accounts.length]}, ${at(-change.minutesBefore)}::timestamptz)`);
      return;
    case "deleteUser": {
      const id = user(change.user);
      if (id) await db.execute(sql`delete from users where id = ${id}`);
      return;
    }
    case "account":
      await db.execute(sql`update accounts set contract_status = ${change.contractStatus}, health = ${change.health},
        renewal_date = ${addDays(today, change.renewal)}::date where id = ${accounts[change.account % accounts.length]}`);
      return;
    case "activity": {
      const id = user(change.user);
      if (!id) return;
      const first = addDays(today, change.dayOffset);
      await db.execute(sql`insert into activity_daily (entity_type, entity_id, day, activity, module, count)
        select e.type, e.id, ${first}::date + d, 'login', ${change.module}::text, ${change.count}::int
        from (select 'user' as type, id from users where id = ${id}
              union all select 'account', account_id from users where id = ${id}) e,
             generate_series(0, ${change.days - 1}::int) d
        where ${first}::date + d <= ${today}::date
        on conflict (entity_type, entity_id, day, activity, module) do update set count = activity_daily.count + excluded.count`);
      return;
    }
    case "activityDelete": {
      const id = user(change.user);
      if (id)
        await db.execute(sql`delete from activity_daily where entity_type = 'user' and entity_id = ${id}`);
      return;
    }
    case "claimAdd": {
      const id = entity(change.entity);
      if (id)
        await db
          .execute(sql`insert into tags (name) values (${change.tag}) on conflict do nothing;`)
          .then(() =>
            db.execute(sql`insert into claims (source, tag_id, entity_type, entity_id)
            select 'manual', id, ${type}, ${id} from tags where name = ${change.tag} on conflict do nothing`),
          );
      return;
    }
    case "claimRemove": {
      // Any source: a person removing a rule's tag by hand removes the rule's claim too.
      const id = entity(change.entity);
      if (id)
        await db.execute(sql`delete from claims where entity_type = ${type} and entity_id = ${id}
          and tag_id in (select id from tags where name = ${change.tag})`);
      return;
    }
    case "suppress": {
      const id = entity(change.entity);
      if (id)
        await db.execute(sql`insert into suppressions (tag_id, entity_type, entity_id, until)
          select id, ${type}, ${id}, ${change.untilMinutes === null ? null : at(change.untilMinutes)}::timestamptz
          from tags where name = 'generated'`);
      return;
    }
    case "lift": {
      const id = entity(change.entity);
      if (id) await db.execute(sql`update suppressions set lifted_at = now() where entity_id = ${id}`);
      return;
    }
    case "sameUser": {
      // A re-import of the same row: only updated_at moves, and nothing needs evaluating.
      const id = user(change.user);
      if (id) await db.execute(sql`update users set updated_at = now() where id = ${id}`);
      return;
    }
  }
}

describe.skipIf(backendUnavailable())("incremental runs", () => {
  const t = useTestDatabase();

  it("change exactly what a run over every entity would", async () => {
    let incremental = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        workspaceArb,
        ruleArb,
        sensitiveArb,
        fc.constantFrom<"user" | "account">("user", "account"),
        fc.constantFrom(0, 1, 90, 240),
        fc.array(changeArb, { maxLength: 10 }),
        // The json-rules-engine path runs incrementally on the same changed entities.
        fc.boolean(),
        async (w, a, pick, type, minutesBetween, changes, reference) => {
          const chosen = sensitive[type][type === "user" ? pick.user : pick.account]!;
          const b = {
            ...a,
            target: type,
            conditions: { all: [pick.negate ? { not: chosen } : chosen] },
          } as RuleDefinition;
          delete (b as { exitConditions?: unknown }).exitConditions;
          const asOf = new Date(w.asOf);
          const before = new Date(asOf.getTime() - minutesBetween * 60_000);
          const rules: LoadedRule[] = ruleSet(a, b, type);
          const opts = {
            timezone: w.timezone,
            trigger: "manual" as const,
            removalGuard: 0.5,
            force: true,
            ...(reference ? { evaluation: "reference" as const } : {}),
          };
          await loadWorkspace(t.database, w);
          await seedRuleState(t.database, w, type);

          await runRules(t.database.db, rules, rules, { ...opts, asOf: before });
          for (const [n, change] of changes.entries())
            await applyChange(t.database, w, type, asOf, change, n);

          // Rule by rule in the pass's order: what a run over every entity would change now (a dry run),
          // then the incremental run, which must change exactly that.
          for (const rule of rules) {
            const full = await runRule(t.database.db, rule, {
              ...opts,
              asOf,
              dryRun: true,
              incremental: false,
              samples: 1000,
            });
            const result = await runRule(t.database.db, rule, { ...opts, asOf });
            runs++;
            if (result.incrementalSince !== undefined) incremental++;
            expect(result.status).toBe("applied");
            const changed = await rows<StoredExplanation & { action: string; entity_id: string }>(
              t.database.db,
              sql`select action, entity_id, rule_id, rule_version, as_of, explanation from tag_events
                  where run_id = ${result.runId ?? -1} order by 1, 2`,
            );
            // Stored compact, read whole as history shows it, like the dry run's samples.
            await expandExplanations(t.database.db, changed);
            const wanted = (list: { entityId: string; explanation: unknown }[] = []) =>
              list
                .map((c) => ({ id: c.entityId, explanation: c.explanation }))
                .sort((x, y) => (x.id < y.id ? -1 : 1));
            const got = (action: string) =>
              changed
                .filter((c) => c.action === action)
                .map((c) => ({ id: c.entity_id, explanation: c.explanation }));
            // The same entities, for the same reasons, as the full evaluation.
            expect({
              rule: rule.definition.id,
              added: got("added"),
              removed: got("removed"),
              matched: result.matched,
            }).toEqual({
              rule: rule.definition.id,
              added: wanted(full.samples?.added),
              removed: wanted(full.samples?.removed),
              matched: full.matched,
            });
          }
        },
      ),
      {
        numRuns: cases,
        // To replay a counterexample: the seed and path fast-check printed.
        seed: process.env.SIGNALTAG_PROPERTY_SEED ? Number(process.env.SIGNALTAG_PROPERTY_SEED) : undefined,
        path: process.env.SIGNALTAG_PROPERTY_PATH,
        endOnFailure: process.env.SIGNALTAG_PROPERTY_PATH !== undefined,
      },
    );
    // The property is about incremental runs: most second runs must have been ones.
    expect(incremental).toBeGreaterThan(runs / 3);
    // Room for fast-check to shrink a counterexample, so a failure is reported, not a timeout.
  }, 300_000);

  /** An account of `users` old users and the new-user rule, with nothing else in the database. */
  async function newUserWorkspace(users: number) {
    const db = t.database.db;
    await db.execute(sql`truncate accounts, users, activity_daily, tags, claims, tag_events, suppressions,
      rule_runs, entity_changes restart identity cascade`);
    await db.execute(sql`insert into accounts (id, provisioned_at) values ('a0', '2026-01-01T00:00:00Z')`);
    await db.execute(sql`insert into users (id, account_id, created_at)
      select 'u' || i, 'a0', '2026-01-01T00:00:00Z' from generate_series(1, ${users}::int) i`);
    const rule = {
      id: "new-user",
      name: "New",
      tag: "new user",
      target: "user",
      enabled: true,
      conditions: { all: [{ fact: "daysSinceCreated", operator: "lessThan", value: 30 }] },
    } as RuleDefinition;
    const rules = [{ definition: rule, version: "v1", file: "" }];
    return { db, rules, opts: { timezone: "UTC", trigger: "manual" as const, removalGuard: 0.5 } };
  }

  it("keeps only the change log a rule's next run can need", async () => {
    const w = { asOf: "2026-03-31T12:00:00Z" };
    const { db, rules, opts } = await newUserWorkspace(12000);
    const count = async () =>
      (await rows<{ n: number }>(db, sql`select count(*)::int as n from entity_changes`))[0]!.n;
    expect(await count()).toBeGreaterThan(12000);

    // The first run records its snapshot; everything logged before it is dropped (and vacuumed).
    await runRules(db, rules, rules, { ...opts, asOf: new Date(w.asOf) });
    expect(await count()).toBe(0);

    await db.execute(sql`update users set created_at = '2026-03-30T00:00:00Z' where id = 'u7'`);
    // The user's row, and its account's member list (userCount, activeUsers).
    expect(await count()).toBe(2);
    const [next] = await runRules(db, rules, rules, { ...opts, asOf: new Date("2026-03-31T13:00:00Z") });
    expect(next).toMatchObject({ evaluated: 1, added: 1, incrementalSince: 1 });
    // The change is behind the new snapshot now; only the run's own claim stays (a rule with exit
    // conditions decides again what its last run changed).
    expect(await rows(db, sql`select kind, entity_id from entity_changes`)).toEqual([
      { kind: "claim", entity_id: "u7" },
    ]);
  });

  it("evaluates every entity again when another signaltag version recorded the baseline", async () => {
    const { db, rules, opts } = await newUserWorkspace(20);
    const at = (hour: number) => new Date(`2026-03-31T${hour}:00:00Z`);
    const [first] = await runRules(db, rules, rules, { ...opts, asOf: at(12) });
    expect(first).toMatchObject({ evaluated: 20 });
    const [same] = await runRules(db, rules, rules, { ...opts, asOf: at(13) });
    expect(same).toMatchObject({ evaluated: 0, incrementalSince: first!.runId });
    // As if an older signaltag had made that run.
    await db.execute(
      sql`update rule_runs set details = jsonb_set(details, '{baseline,evaluatedBy}', '"0.0.1/facts-0"')`,
    );
    const [upgraded] = await runRules(db, rules, rules, { ...opts, asOf: at(14) });
    expect(upgraded!.incrementalSince).toBeUndefined();
    expect(upgraded).toMatchObject({ evaluated: 20 });
    const [after] = await runRules(db, rules, rules, { ...opts, asOf: at(15) });
    expect(after).toMatchObject({ evaluated: 0, incrementalSince: upgraded!.runId });
  });

  it.skipIf(testBackend() !== "postgres")(
    "does not truncate the change log under a transaction still writing to it",
    async () => {
      const { db, rules, opts } = await newUserWorkspace(50);
      const logged = async () =>
        (await rows<{ id: string }>(db, sql`select entity_id as id from entity_changes order by 1`)).map(
          (r) => r.id,
        );
      await runRules(db, rules, rules, { ...opts, asOf: new Date("2026-03-31T12:00:00Z") });
      // Nothing left that a next run could need: the log was emptied.
      expect(await logged()).toEqual([]);

      // Another connection creates a user and has not committed yet when the next run prunes.
      const other = postgres(t.url!, { max: 1, onnotice: () => {} });
      try {
        const writer = await other.reserve();
        await writer`begin`;
        await writer`insert into users (id, account_id, created_at) values ('late', 'a0', '2026-03-30T00:00:00Z')`;
        const [during] = await runRules(db, rules, rules, {
          ...opts,
          asOf: new Date("2026-03-31T13:00:00Z"),
        });
        expect(during).toMatchObject({ evaluated: 0, incrementalSince: 1 });
        await writer`commit`;
        writer.release();
      } finally {
        await other.end({ timeout: 5 });
      }
      // The writer's changes (the user, and its account's members) survived the prune, and the next run
      // tags the new user.
      expect(await logged()).toEqual(["a0", "late"]);
      const [next] = await runRules(db, rules, rules, { ...opts, asOf: new Date("2026-03-31T14:00:00Z") });
      expect(next).toMatchObject({ evaluated: 1, added: 1 });
    },
  );
});
