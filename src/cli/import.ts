import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { Database } from "../db/client.ts";
import {
  type ImportProgress,
  type ImportResult,
  importAccounts,
  importEvents,
  importUsers,
} from "../imports/index.ts";
import { queueAfterImport } from "../jobs/after-changes.ts";
import type { CliContext, Output } from "./context.ts";

/**
 * The `import` command group, created on first use. Each kind of import
 * (accounts, users and events here; tags in its own file) adds its subcommand
 * to it, whichever registrar runs first.
 */
export function importCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "import") ??
    program
      .command("import")
      .description(
        "Import accounts, users, events or tags from .csv or .ndjson files. A file with an invalid row is refused whole (--skip-invalid imports the valid rows). Timestamps are ISO-8601; one without an offset is read as UTC.",
      )
  );
}

type Importer = (
  database: Database,
  file: string,
  opts: { skipInvalid: boolean; onProgress?: (p: ImportProgress) => void },
  ctx: CliContext,
) => Promise<ImportResult>;

const importers: { name: string; description: string; run: Importer }[] = [
  {
    name: "accounts",
    description:
      "Import or update accounts. Columns: id and provisioned_at (required), name, contract_status, renewal_date, health_score, health; other columns become attributes.",
    run: (database, file, opts) => importAccounts(database, file, opts),
  },
  {
    name: "users",
    description:
      "Import or update users. Columns: id, account_id and created_at (required), email, name; other columns become attributes.",
    run: (database, file, opts) => importUsers(database, file, opts),
  },
  {
    name: "events",
    description:
      "Import activity events and add them to the daily rollups. Columns: user_id and/or account_id, activity and occurred_at (required), module, count, event_id; with event_id, events already imported are ignored.",
    run: (database, file, opts, ctx) =>
      importEvents(database, file, { ...opts, timezone: ctx.config.timezone }),
  },
];

export function registerImportCommands(program: Command, ctx: CliContext): void {
  const group = importCommand(program);
  for (const importer of importers) {
    group
      .command(importer.name)
      .alias(importer.name.replace(/s$/, ""))
      .description(importer.description)
      .argument("<file>", "a .csv file with a header line, or a .ndjson file with one object per line")
      .option("--skip-invalid", "import the valid rows and report the others, instead of refusing the file")
      .option(
        "--json",
        "print the result as JSON, with the path the import took and why it left the direct path",
      )
      .action(async (file: string, options: { skipInvalid?: boolean; json?: boolean }) => {
        const database = await ctx.database();
        const bar = progressBar(ctx.stderr, file);
        let result: ImportResult;
        try {
          result = await importer.run(
            database,
            file,
            { skipInvalid: options.skipInvalid === true, onProgress: bar?.update },
            ctx,
          );
        } finally {
          bar?.stop();
        }
        ctx.stdout.write(
          options.json
            ? `${JSON.stringify(result)}
`
            : `${summary(result)}
`,
        );
        const queued = await queueAfterImport(ctx.config, result.touched);
        if (queued) ctx.stderr.write(`${queued.note}\n`);
        if (result.problemCount > 0) ctx.stderr.write(skippedReport(result));
        if (result.ignoredColumns.length > 0) {
          ctx.stderr.write(
            `note: ${result.source}: ignored column${result.ignoredColumns.length > 1 ? "s" : ""} ${result.ignoredColumns.join(", ")} (not an events column)\n`,
          );
        }
      });
  }
}

export function summary(result: ImportResult): string {
  const details: string[] = [];
  if (result.entity === "events") {
    if (result.duplicates > 0) details.push(`${result.duplicates} already imported`);
  } else {
    details.push(`${result.inserted} new`, `${result.updated} updated`);
  }
  if (result.skipped > 0) details.push(`${result.skipped} skipped`);
  const noun = result.imported === 1 ? result.entity.slice(0, -1) : result.entity;
  return `imported ${result.imported} ${noun} from ${result.source}${details.length ? ` (${details.join(", ")})` : ""}`;
}

function skippedReport(result: ImportResult): string {
  const lines = result.problems.map((p) => `  line ${p.line}: ${p.message}\n`);
  const more = result.problemCount - result.problems.length;
  return (
    `skipped ${result.problemCount} invalid row${result.problemCount === 1 ? "" : "s"} of ${result.source}:\n` +
    lines.join("") +
    (more > 0 ? `  ... and ${more} more\n` : "")
  );
}

/** A progress bar on a terminal; nothing when the output is a file or a pipe. */
function progressBar(stream: Output, file: string) {
  if (!stream.isTTY) return undefined;
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(p: ImportProgress) {
      if (p.totalBytes === undefined) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: stream as NodeJS.WritableStream,
            format: `${file} [{bar}] {percentage}% | {rows} rows | {phase}`,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.totalBytes, 0, { rows: 0, phase: p.phase });
      }
      bar.update(p.bytesRead, {
        rows: p.rows,
        phase: p.phase === "reading" ? "reading" : "checking and merging",
      });
    },
    stop() {
      bar?.stop();
    },
  };
}
