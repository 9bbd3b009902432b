import fs from "node:fs";
import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { importTagsFile, type TagsFileResult } from "../tags/file-import.ts";
import { cliActor } from "./actor.ts";
import type { CliContext } from "./context.ts";
import { importCommand } from "./import.ts";

function describe(r: TagsFileResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.dryRun ? "dry run: " : ""}${r.source}: ${r.appliedRows} of ${r.rows} ${r.entityType} rows ${r.dryRun ? "would be " : ""}applied; ` +
      `${r.addedCount} claim${r.addedCount === 1 ? "" : "s"} ${r.dryRun ? "would be " : ""}added (${r.membershipsAdded} new tag${r.membershipsAdded === 1 ? "" : "s"} on entities), ` +
      `${r.removedCount} ${r.dryRun ? "would be " : ""}removed (${r.membershipsRemoved} tag${r.membershipsRemoved === 1 ? "" : "s"} taken off)`,
  );
  if (r.dryRun) {
    for (const c of r.added) lines.push(`  + ${r.entityType} ${c.entityId} ${JSON.stringify(c.tag)} (file)`);
    for (const c of r.removed)
      lines.push(`  - ${r.entityType} ${c.entityId} ${JSON.stringify(c.tag)} (${c.source})`);
    if (r.truncated) lines.push("  ... (lists truncated; the counts above are exact)");
  }
  for (const u of r.unknownIds)
    lines.push(`  unknown ${r.entityType} on line ${u.line}: ${JSON.stringify(u.id)}`);
  for (const p of r.problems) {
    lines.push(`  line ${p.line}${p.column ? `, column ${JSON.stringify(p.column)}` : ""}: ${p.message}`);
  }
  if (r.refused) {
    lines.push(
      "as it is, the file would be refused: fix the rows above, or use --skip-invalid to apply the good rows",
    );
  }
  return `${lines.join("\n")}\n`;
}

export function registerImportTagsCommand(program: Command, ctx: CliContext): void {
  importCommand(program)
    .command("tags")
    .description(
      "Import a tags file: an account_id or user_id column, then tag##<name> columns; yes/true adds a claim (source file), no/false removes the tag (every claim), blank leaves it.",
    )
    .argument("<file>", "a .csv file")
    .option("--dry-run", "report what would be added and removed, and unknown ids, without writing anything")
    .option("--skip-invalid", "apply the good rows and report the others, instead of refusing the file")
    .option("--actor <name>", "who to record as making the changes (default cli:<login name>)")
    .option("--json", "print the result as JSON")
    .action(
      async (
        file: string,
        opts: { dryRun?: boolean; skipInvalid?: boolean; actor?: string; json?: boolean },
      ) => {
        let text: string;
        try {
          text = await fs.promises.readFile(file, "utf8");
        } catch (err) {
          throw new InputError(
            `${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? err})`,
            {
              cause: err,
            },
          );
        }
        const database = await ctx.database();
        const result = await importTagsFile(
          database.db,
          text,
          {
            source: file,
            actor: cliActor(opts.actor),
            dryRun: opts.dryRun,
            skipInvalid: opts.skipInvalid,
          },
          ctx.tagHooks,
        );
        ctx.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : describe(result));
      },
    );
}
