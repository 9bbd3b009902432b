import type { Command } from "commander";
import { parseMembershipInstant } from "../tags/as-of.ts";
import { listTags, tagsArePermanent } from "../tags/catalog.ts";
import { membersOf } from "../tags/history.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";
import { table, writeChunk } from "./format.ts";

export function registerTagsCommands(program: Command, ctx: CliContext): void {
  const tags = program.command("tags").description("List tags and who has them.");
  tags
    .command("list")
    .description("Every tag with how many accounts and users have it.")
    .option("--json", "print one JSON array")
    .action(async (opts: { json?: boolean }) => {
      const database = await ctx.database();
      const list = await listTags(database.db);
      if (opts.json) {
        ctx.stdout.write(
          `${JSON.stringify(list.map(({ name, accounts, users }) => ({ name, accounts, users })))}\n`,
        );
        return;
      }
      if (list.length === 0) {
        ctx.stdout.write("no tags yet: tags are created on first use\n");
        return;
      }
      ctx.stdout.write(
        table(
          ["tag", "accounts", "users"],
          list.map((t) => [t.name, t.accounts, t.users]),
        ),
      );
    });
  tags
    .command("members")
    .description(
      "The ids of the entities that have a tag now, or had it as of a past date (replayed from history).",
    )
    .argument("<tag>", "the tag's name")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .option("--as-of <date>", "a date (end of that day in the workspace time zone) or an ISO-8601 instant")
    .action(async (name: string, typeArg: string, opts: { asOf?: string }) => {
      const type = parseEntityType(typeArg);
      const asOf =
        opts.asOf === undefined
          ? undefined
          : parseMembershipInstant(opts.asOf, ctx.config.timezone, "--as-of");
      const database = await ctx.database();
      let cursor: string | undefined;
      let found = 0;
      do {
        const page = await membersOf(database.db, { tag: name, type, asOf, cursor, limit: 5000 });
        if (page.ids.length > 0) await writeChunk(ctx.stdout, `${page.ids.join("\n")}\n`);
        found += page.ids.length;
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      // stdout is a list of ids for scripts; the empty case is said where a person sees it.
      if (found === 0) {
        ctx.stderr.write(
          `0 ${type}s have ${JSON.stringify(name)}${opts.asOf ? ` as of ${opts.asOf}` : ""}\n`,
        );
      }
    });
  tags
    .command("rename")
    .description("Refused: tags are permanent.")
    .argument("<tag>")
    .argument("<new-name>")
    .action((name: string) => {
      throw tagsArePermanent("rename", name);
    });
  tags
    .command("delete")
    .description("Refused: tags are permanent.")
    .argument("<tag>")
    .action((name: string) => {
      throw tagsArePermanent("delete", name);
    });
}
