import fs from "node:fs";
import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { bulkTagSegment } from "../segments/bulk.ts";
import { csvHeader, csvLines } from "../segments/export.ts";
import {
  countSegment,
  resolveSegment,
  type SegmentAccountRow,
  type SegmentQuery,
  type SegmentUserRow,
  segmentAllRows,
  segmentPage,
} from "../segments/query.ts";
import { cliActor } from "./actor.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";
import { table, writeChunk } from "./format.ts";
import { parseAsOf } from "./run.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

function parseConditions(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  let source = text;
  if (text.startsWith("@")) {
    try {
      source = fs.readFileSync(text.slice(1), "utf8");
    } catch (err) {
      throw new InputError(
        `--conditions ${text}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
  }
  try {
    return JSON.parse(source);
  } catch (err) {
    throw new InputError(`--conditions is not valid JSON: ${(err as Error).message}`);
  }
}

interface SegmentOptions {
  taggedWith: string[];
  notTagged: string[];
  match: string;
  conditions?: string;
  asOf?: string;
  count?: boolean;
  format: string;
  limit: string;
  addTag?: string;
  removeTag?: string;
  actor?: string;
}

export function registerSegmentCommands(program: Command, ctx: CliContext): void {
  program
    .command("segment")
    .description(
      'Accounts or users "Tagged with" / "Is not tagged" (and matching optional rule-format conditions): count, rows, CSV, or tag them all.',
    )
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .option("--tagged-with <tag>", "entities that have this tag (repeatable)", collect, [])
    .option("--not-tagged <tag>", "entities that do not have this tag (repeatable)", collect, [])
    .option("--match <all|any>", "every tag test must hold, or any one", "all")
    .option("--conditions <json|@file>", "conditions in the rule condition format, e.g. '{\"all\":[...]}'")
    .option("--as-of <instant>", "evaluate conditions as of this ISO-8601 instant (default now)")
    .option("--count", "print only how many entities the segment has")
    .option("--format <format>", "table, csv (every row) or json (one page)", "table")
    .option("--limit <n>", "rows to show in table or json format", "100")
    .option("--add-tag <tag>", "add this tag (source bulk) to every entity of the segment")
    .option("--remove-tag <tag>", "remove this tag (every claim) from every entity of the segment")
    .option("--actor <name>", "who to record as making a bulk change (default cli:<login name>)")
    .action(async (typeArg: string, opts: SegmentOptions) => {
      const type = parseEntityType(typeArg);
      if (opts.match !== "all" && opts.match !== "any") {
        throw new InputError(`--match must be all or any, not ${JSON.stringify(opts.match)}`);
      }
      if (!["table", "csv", "json"].includes(opts.format)) {
        throw new InputError(`--format must be table, csv or json, not ${JSON.stringify(opts.format)}`);
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new InputError(
          `--limit must be a whole number from 1 to 1000, not ${JSON.stringify(opts.limit)}`,
        );
      }
      if (opts.addTag !== undefined && opts.removeTag !== undefined) {
        throw new InputError("give --add-tag or --remove-tag, not both");
      }
      const query: SegmentQuery = {
        type,
        taggedWith: opts.taggedWith,
        notTagged: opts.notTagged,
        match: opts.match,
        conditions: parseConditions(opts.conditions),
        budgetMs: ctx.config.segmentBudgetMs,
      };
      const clock = { asOf: parseAsOf(opts.asOf) ?? new Date(), timezone: ctx.config.timezone };
      const database = await ctx.database();
      const db = database.db;
      const warnUnknown = (unknown: string[]) => {
        if (unknown.length > 0) {
          ctx.stderr.write(`note: no tag is named ${unknown.map((n) => JSON.stringify(n)).join(", ")}\n`);
        }
      };

      const bulkTag = opts.addTag ?? opts.removeTag;
      if (bulkTag !== undefined) {
        const action = opts.addTag !== undefined ? "add" : "remove";
        const r = await bulkTagSegment(
          db,
          query,
          { ...clock, action, tag: bulkTag, actor: cliActor(opts.actor) },
          ctx.tagHooks,
        );
        warnUnknown(r.unknownTags);
        ctx.stdout.write(
          `${action === "add" ? "added" : "removed"} ${JSON.stringify(r.tag)} ${action === "add" ? "to" : "from"} ${r.membershipsChanged} of ${r.requested} ${type}s in the segment (${r.claimsChanged} claims ${action === "add" ? "added" : "removed"}, ${r.unchanged} unchanged)\n`,
        );
        return;
      }
      if (opts.count) {
        const segment = await resolveSegment(db, query);
        warnUnknown(segment.unknownTags);
        ctx.stdout.write(`${await countSegment(db, segment, clock)}\n`);
        return;
      }
      if (opts.format === "csv") {
        await writeChunk(ctx.stdout, csvHeader(type));
        for await (const rows of segmentAllRows(db, query, clock))
          await writeChunk(ctx.stdout, csvLines(type, rows));
        return;
      }
      const page = await segmentPage(db, query, { ...clock, limit });
      warnUnknown(page.unknownTags);
      if (opts.format === "json") {
        ctx.stdout.write(`${JSON.stringify(page)}\n`);
        return;
      }
      ctx.stdout.write(`${page.count} ${type}${page.count === 1 ? "" : "s"}\n`);
      if (page.rows.length === 0) return;
      const body =
        type === "user"
          ? (page.rows as SegmentUserRow[]).map((r) => [r.id, r.accountId, r.email ?? "", r.tags.join(", ")])
          : (page.rows as SegmentAccountRow[]).map((r) => [
              r.id,
              r.name ?? "",
              r.contractStatus ?? "",
              r.health ?? "",
              r.tags.join(", "),
            ]);
      ctx.stdout.write(
        table(
          type === "user" ? ["id", "account", "email", "tags"] : ["id", "name", "contract", "health", "tags"],
          body,
        ),
      );
      if (page.nextCursor)
        ctx.stdout.write(`(first ${page.rows.length} shown; --format csv prints every row)\n`);
    });
}
