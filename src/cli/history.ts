import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { historyOf } from "../tags/history.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";

export function registerHistoryCommands(program: Command, ctx: CliContext): void {
  program
    .command("history")
    .description("An entity's tag history, newest first, each entry with why it happened.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .option("--tag <name>", "only this tag's history")
    .option("--limit <n>", "entries to show", "50")
    .option("--json", "print one JSON object per entry")
    .action(async (typeArg: string, id: string, opts: { tag?: string; limit: string; json?: boolean }) => {
      const type = parseEntityType(typeArg);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new InputError(`--limit must be a positive whole number, not ${JSON.stringify(opts.limit)}`);
      }
      const database = await ctx.database();
      const page = await historyOf(database.db, { type, id, tag: opts.tag, limit });
      if (opts.json) {
        for (const e of page.entries) ctx.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      if (page.entries.length === 0) {
        ctx.stdout.write(
          `no history for ${type} ${id}${opts.tag ? ` and tag ${JSON.stringify(opts.tag)}` : ""}\n`,
        );
        return;
      }
      for (const e of page.entries) {
        ctx.stdout.write(`${e.at}  ${e.tag}  ${e.summary}\n`);
        // The same reasons in words, under the rule's name.
        const rule = e.rule?.name ? `${e.rule.name}: ` : "";
        for (const why of e.because ?? []) ctx.stdout.write(`    ${rule}${why}\n`);
      }
      if (page.nextCursor) ctx.stdout.write(`(older entries: --limit ${limit * 2})\n`);
    });
}
