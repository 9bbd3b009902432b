import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError } from "commander";
import { seedDefaults } from "../seed/generator.ts";
import { type SeedPhase, type SeedProgress, seedWorkspace } from "../seed/seed-workspace.ts";
import type { CliContext, Output } from "./context.ts";

function wholeNumber(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
      throw new InvalidArgumentError(`expected a whole number of at least ${min}, got "${text}".`);
    }
    return value;
  };
}

/** An ISO-8601 instant; without an offset it is UTC, as everywhere in signaltag. */
function instant(text: string): Date {
  const trimmed = text.trim().replace(" ", "T");
  const shape = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/.test(trimmed);
  const value = shape.test(trimmed)
    ? new Date(hasOffset || trimmed.length === 10 ? trimmed : `${trimmed}Z`)
    : null;
  if (!value || Number.isNaN(value.getTime())) {
    throw new InvalidArgumentError(
      `expected an ISO-8601 instant such as 2026-03-01T12:00:00Z, got "${text}".`,
    );
  }
  return value;
}

const phaseLabels: Record<SeedPhase, string> = {
  accounts: "accounts",
  users: "users",
  events: "events (users)",
  rollups: "daily rollups",
  analyze: "statistics",
};

/** A progress bar on a terminal; nothing when stderr is a file or a pipe. */
function progressReporter(stderr: Output): { report?: (p: SeedProgress) => void; stop: () => void } {
  if (!stderr.isTTY) return { stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr as NodeJS.WritableStream,
      format: "{phase} |{bar}| {value}/{total} {percentage}% | {duration_formatted}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let phase: SeedPhase | undefined;
  return {
    report(p) {
      if (p.phase !== phase) {
        if (phase) bar.stop();
        phase = p.phase;
        if (p.total === null) stderr.write(`${phaseLabels[p.phase]}…\n`);
        else bar.start(p.total, p.done, { phase: phaseLabels[p.phase].padEnd(15) });
        return;
      }
      if (p.total !== null) bar.update(p.done);
    },
    stop: () => bar.stop(),
  };
}

const count = (n: number) => n.toLocaleString("en-US");

export function registerSeedCommand(program: Command, ctx: CliContext): void {
  program
    .command("seed")
    .description(
      "Fill the workspace with a deterministic synthetic one: accounts, users and their activity, for demos, tests and benchmarks.",
    )
    .option("--accounts <n>", "accounts to create", wholeNumber(1), seedDefaults.accounts)
    .option("--users <n>", "users to create, spread over the accounts", wholeNumber(0), seedDefaults.users)
    .option("--days <n>", "days of activity history, ending today", wholeNumber(1), seedDefaults.days)
    .option(
      "--seed <n>",
      "random seed: the same options give the same data",
      wholeNumber(0),
      seedDefaults.seed,
    )
    .option(
      "--as-of <instant>",
      "the generated workspace's now (ISO-8601, default now); today is its date in SIGNALTAG_TIMEZONE",
      instant,
    )
    .option(
      "--replace",
      "empty the workspace first: accounts, users, activity events and rollups, and the claims, tag history and rule runs about them (tags and synced rules are kept)",
    )
    .addHelpText(
      "after",
      `
Without --replace, seed refuses a workspace that already holds accounts, users
or events, and changes nothing. Pass --as-of too for data that is the same on
every run: by default the history ends now.

Example:
  signaltag seed --accounts 200 --users 2000 --as-of 2026-03-01T12:00:00Z --replace`,
    )
    .action(
      async (opts: {
        accounts: number;
        users: number;
        days: number;
        seed: number;
        asOf?: Date;
        replace?: boolean;
      }) => {
        const database = await ctx.database();
        const progress = progressReporter(ctx.stderr);
        let result: Awaited<ReturnType<typeof seedWorkspace>>;
        try {
          result = await seedWorkspace(
            database,
            {
              accounts: opts.accounts,
              users: opts.users,
              days: opts.days,
              seed: opts.seed,
              asOf: opts.asOf ?? new Date(),
              replace: opts.replace ?? false,
            },
            { timezone: ctx.config.timezone, onProgress: progress.report },
          );
        } finally {
          progress.stop();
        }
        const { counts } = result;
        ctx.stdout.write(
          `seeded ${count(counts.accounts)} accounts, ${count(counts.users)} users, ${count(counts.events)} events ` +
            `(${count(counts.rollups)} daily rollup rows) over ${opts.days} days to ${result.today}, seed ${opts.seed}` +
            `${result.replaced ? ", replacing the previous workspace" : ""}, in ${(result.durationMs / 1000).toFixed(1)}s\n`,
        );
      },
    );
}
