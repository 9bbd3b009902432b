import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { rows } from "../db/client.ts";
import { InputError } from "../errors/index.ts";
import type { CliContext } from "./context.ts";
import { csvField, writeChunk } from "./format.ts";

const PAGE = 5000;

export function registerExportCommands(program: Command, ctx: CliContext): void {
  const exp = program.command("export").description("Export data.");
  exp
    .command("assignments")
    .description("Every tag assignment: entity_type,entity_id,tag,sources (sources sorted, joined by ';').")
    .option("--format <format>", "csv or ndjson", "csv")
    .action(async (opts: { format: string }) => {
      if (opts.format !== "csv" && opts.format !== "ndjson") {
        throw new InputError(`--format must be csv or ndjson, not ${JSON.stringify(opts.format)}`);
      }
      const database = await ctx.database();
      if (opts.format === "csv") ctx.stdout.write("entity_type,entity_id,tag,sources\n");
      // Keyset pages keep memory flat however many assignments there are.
      let after: { type: string; id: string; tag: string } | null = null;
      for (;;) {
        const cursor = after
          ? sql`where (c.entity_type, c.entity_id, lower(t.name)) > (${after.type}, ${after.id}, lower(${after.tag}))`
          : sql``;
        const page: { entity_type: string; entity_id: string; tag: string; sources: string[] }[] = await rows(
          database.db,
          sql`select c.entity_type, c.entity_id, t.name as tag, array_agg(c.source order by c.source collate "C") as sources
              from claims c join tags t on t.id = c.tag_id
              ${cursor}
              group by c.entity_type, c.entity_id, t.name
              order by c.entity_type, c.entity_id, lower(t.name)
              limit ${PAGE}`,
        );
        let chunk = "";
        for (const r of page) {
          chunk +=
            opts.format === "csv"
              ? `${[r.entity_type, r.entity_id, r.tag, r.sources.join(";")].map(csvField).join(",")}\n`
              : `${JSON.stringify({ entity_type: r.entity_type, entity_id: r.entity_id, tag: r.tag, sources: r.sources })}\n`;
        }
        if (chunk) await writeChunk(ctx.stdout, chunk);
        if (page.length < PAGE) break;
        const lastRow = page[page.length - 1]!;
        after = { type: lastRow.entity_type, id: lastRow.entity_id, tag: lastRow.tag };
      }
    });
}
