import type { Command } from "commander";
import { assignmentPages } from "../claims/sql/assignments.ts";
import { csvLine } from "../csv.ts";
import { InputError } from "../errors/index.ts";
import type { CliContext } from "./context.ts";
import { writeChunk } from "./format.ts";

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
      let exported = 0;
      for await (const page of assignmentPages(database.db, PAGE)) {
        let chunk = "";
        for (const r of page) {
          chunk +=
            opts.format === "csv"
              ? csvLine([r.entity_type, r.entity_id, r.tag, r.sources.join(";")])
              : `${JSON.stringify({ entity_type: r.entity_type, entity_id: r.entity_id, tag: r.tag, sources: r.sources })}\n`;
        }
        if (chunk) await writeChunk(ctx.stdout, chunk);
        exported += page.length;
      }
      if (exported === 0) ctx.stderr.write("0 tag assignments\n");
    });
}
