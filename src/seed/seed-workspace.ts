import type { Database } from "../db/client.ts";
import { ConflictError, InputError } from "../errors/index.ts";
import { rebuildRollups } from "../imports/rollups.ts";
import { type SeedOptions, seedDefaults, seedOptionProblems, WorkspaceGenerator } from "./generator.ts";
import { accountColumns, accountRow, eventColumns, eventRow, rowsOf, userColumns, userRow } from "./rows.ts";
import { analyzeWorkspace, emptyTables, rollupCount, workspaceContents } from "./sql/workspace.ts";

export type SeedPhase = "accounts" | "users" | "events" | "rollups" | "analyze";

export interface SeedProgress {
  phase: SeedPhase;
  /** Entities done in this phase: accounts, users, or users whose events are loaded. */
  done: number;
  /** Null for phases that run as one statement. */
  total: number | null;
}

export interface SeedWorkspaceOptions extends SeedOptions {
  /** Empty the workspace first instead of refusing when it holds data. */
  replace: boolean;
}

export interface SeedCounts {
  accounts: number;
  users: number;
  events: number;
  /** activity_daily rows rebuilt from the events. */
  rollups: number;
}

export interface SeedResult {
  counts: SeedCounts;
  /** The last day of history (the as-of instant's date in the workspace time zone). */
  today: string;
  /** Whether existing workspace data was removed first. */
  replaced: boolean;
  durationMs: number;
}

/**
 * What `replace` empties: the workspace's entities and activity, and what
 * was said about those entities (claims, tag history, rule runs, suppressions),
 * since the new synthetic entities reuse the same ids. Tags (permanent by
 * design) and synced rules stay. Tables a database does not have yet are skipped.
 */
const replacedTables = [
  "accounts",
  "users",
  "activity_events",
  "activity_daily",
  "claims",
  "tag_events",
  "rule_runs",
  "suppressions",
] as const;

/** Progress is reported about this often while rows stream (in entities). */
const PROGRESS_EVERY = 1000;

/**
 * Fills an empty workspace with a deterministic synthetic one: accounts,
 * users and their activity, streamed through the bulk loader, then the daily
 * rollups recomputed from the raw events. Refuses a workspace that already
 * holds accounts, users or events unless `replace` is set.
 *
 * Loading is not one transaction (COPY streams on a connection of its own):
 * a failure part-way leaves a partial workspace, which `replace` clears.
 */
export async function seedWorkspace(
  database: Database,
  options: Partial<SeedWorkspaceOptions>,
  ctx: { timezone: string; onProgress?: (progress: SeedProgress) => void },
): Promise<SeedResult> {
  const started = performance.now();
  const opts: SeedWorkspaceOptions = { ...seedDefaults, asOf: new Date(), replace: false, ...options };
  const problems = seedOptionProblems(opts);
  if (problems.length > 0) throw new InputError(problems.join("; "));
  const progress = ctx.onProgress ?? (() => {});
  const { db } = database;

  const existing = await workspaceContents(db);
  const hasData = existing.accounts > 0 || existing.users > 0 || existing.events;
  if (hasData && !opts.replace) {
    const held = [
      `${existing.accounts} account${existing.accounts === 1 ? "" : "s"}`,
      `${existing.users} user${existing.users === 1 ? "" : "s"}`,
      ...(existing.events ? ["activity events"] : []),
    ].join(", ");
    throw new ConflictError(
      `The workspace is not empty (${held}); seeding would mix synthetic data into it. Run \`signaltag seed --replace\` to empty it first, or use another database (DATABASE_URL, SIGNALTAG_DATA_DIR).`,
      { code: "workspace_not_empty" },
    );
  }
  if (opts.replace) await emptyTables(db, replacedTables);

  const generator = new WorkspaceGenerator(opts, ctx.timezone);
  const counts: SeedCounts = { accounts: 0, users: 0, events: 0, rollups: 0 };

  const every = <T>(phase: SeedPhase, total: number, items: Iterable<T>): Iterable<T> => ({
    *[Symbol.iterator]() {
      let done = 0;
      progress({ phase, done, total });
      for (const item of items) {
        yield item;
        if (++done % PROGRESS_EVERY === 0) progress({ phase, done, total });
      }
      progress({ phase, done, total });
    },
  });

  counts.accounts = await database.copyRows(
    "accounts",
    accountColumns,
    rowsOf(every("accounts", opts.accounts, generator.accounts()), accountRow),
  );
  counts.users = await database.copyRows(
    "users",
    userColumns,
    rowsOf(every("users", opts.users, generator.users()), userRow),
  );
  progress({ phase: "events", done: 0, total: opts.users });
  let reported = 0;
  counts.events = await database.copyRows(
    "activity_events",
    eventColumns,
    rowsOf(
      generator.events((done) => {
        if (done - reported >= PROGRESS_EVERY || done === opts.users) {
          reported = done;
          progress({ phase: "events", done, total: opts.users });
        }
      }),
      eventRow,
    ),
  );

  progress({ phase: "rollups", done: 0, total: null });
  // Session memory for this statement only; the embedded database keeps its small defaults.
  await rebuildRollups(database.db, ctx.timezone, database.kind === "postgres" ? { workMem: "256MB" } : {});
  counts.rollups = await rollupCount(db);

  // Fresh statistics, so the first rule run plans its queries for the real sizes.
  progress({ phase: "analyze", done: 0, total: null });
  await analyzeWorkspace(db);

  return {
    counts,
    today: generator.calendar.today,
    replaced: opts.replace && hasData,
    durationMs: performance.now() - started,
  };
}
