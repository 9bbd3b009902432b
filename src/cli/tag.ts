import type { Command } from "commander";
import type { EntityTag } from "../claims/entity-tags.ts";
import { InputError } from "../errors/index.ts";
import { parseInstant } from "../facts/time.ts";
import { applyTag, removeTag, type TagChangeResult } from "../tags/manual.ts";
import { liftSuppression, suppress } from "../tags/suppress.ts";
import { cliActor } from "./actor.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";

export function formatEntityTags(tags: EntityTag[], indent = "  "): string {
  if (tags.length === 0) return `${indent}(no tags)\n`;
  return tags
    .map(
      (t) =>
        `${indent}${t.name}  [${t.claims.map((c) => `${c.source}${c.actor ? ` by ${c.actor}` : ""} since ${c.since}`).join("; ")}]\n`,
    )
    .join("");
}

function report(
  ctx: CliContext,
  verb: "added" | "removed",
  type: string,
  id: string,
  r: TagChangeResult,
  json?: boolean,
) {
  if (json) {
    ctx.stdout.write(
      `${JSON.stringify({ changed: r.changed, tag: r.tag, claims: r.claims, tags: r.tags })}\n`,
    );
    return;
  }
  const what = r.changed
    ? `${verb} ${JSON.stringify(r.tag)} ${verb === "added" ? "to" : "from"} ${type} ${id}${verb === "removed" ? ` (claims removed: ${r.claims.map((c) => c.source).join(", ")})` : ""}`
    : verb === "added"
      ? `${type} ${id} already has ${JSON.stringify(r.tag)} by hand; nothing changed`
      : `${type} ${id} does not have ${JSON.stringify(r.tag)}; nothing changed`;
  ctx.stdout.write(`${what}\n${type} ${id} tags:\n${formatEntityTags(r.tags)}`);
}

export function registerTagCommands(program: Command, ctx: CliContext): void {
  const tag = program
    .command("tag")
    .description("Tag one account or user by hand, or suppress a rule's tag on it.");
  tag
    .command("add")
    .description("Add a tag to one entity by hand (source manual); the tag is created on first use.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .argument("<tag>", "the tag's name (matched case-insensitively)")
    .option("--actor <name>", "who to record as making the change (default cli:<login name>)")
    .option("--json", "print the result as JSON")
    .action(async (typeArg: string, id: string, name: string, opts: { actor?: string; json?: boolean }) => {
      const type = parseEntityType(typeArg);
      const database = await ctx.database();
      const r = await applyTag(
        database.db,
        { type, id, tag: name, actor: cliActor(opts.actor) },
        ctx.tagHooks,
      );
      report(ctx, "added", type, id, r, opts.json);
    });
  tag
    .command("remove")
    .description("Remove a tag from one entity by hand: every claim on it goes, whatever its source.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .argument("<tag>", "the tag's name")
    .option("--actor <name>", "who to record as making the change (default cli:<login name>)")
    .option("--json", "print the result as JSON")
    .action(async (typeArg: string, id: string, name: string, opts: { actor?: string; json?: boolean }) => {
      const type = parseEntityType(typeArg);
      const database = await ctx.database();
      const r = await removeTag(
        database.db,
        { type, id, tag: name, actor: cliActor(opts.actor) },
        ctx.tagHooks,
      );
      report(ctx, "removed", type, id, r, opts.json);
    });
  tag
    .command("suppress")
    .description("Stop rules from claiming a tag on one entity, until a date or until lifted.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .argument("<tag>", "the tag's name")
    .option("--rule <id>", "suppress only this rule's claim (default: every rule's)")
    .option("--until <instant>", "the suppression ends by itself at this ISO-8601 instant")
    .option("--reason <text>", "why, shown in the history")
    .option("--actor <name>", "who to record as making the change (default cli:<login name>)")
    .option("--json", "print the suppression as JSON")
    .action(
      async (
        typeArg: string,
        id: string,
        name: string,
        opts: { rule?: string; until?: string; reason?: string; actor?: string; json?: boolean },
      ) => {
        const type = parseEntityType(typeArg);
        let until: Date | undefined;
        if (opts.until !== undefined) {
          until = parseInstant(opts.until);
          if (!until)
            throw new InputError(`--until ${JSON.stringify(opts.until)} is not an ISO-8601 instant`);
        }
        const database = await ctx.database();
        const r = await suppress(
          database.db,
          {
            type,
            id,
            tag: name,
            ruleId: opts.rule ?? null,
            until: until ?? null,
            reason: opts.reason ?? null,
            actor: cliActor(opts.actor),
          },
          ctx.tagHooks,
        );
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        const s = r.suppression;
        ctx.stdout.write(
          `suppression ${s.id}: ${s.ruleId ? `rule ${s.ruleId}` : "no rule"} may claim ${JSON.stringify(s.tag)} on ${type} ${id}${s.until ? ` until ${s.until}` : " until lifted"}\n`,
        );
        if (r.removedClaims.length > 0) ctx.stdout.write(`removed now: ${r.removedClaims.join(", ")}\n`);
      },
    );
  tag
    .command("lift")
    .description(
      "Lift a suppression, so its rule may claim the tag again (at once with REDIS_URL, else on its next run).",
    )
    .argument("<suppression-id>", "the suppression's id (see signaltag profile)")
    .option("--actor <name>", "who to record as making the change (default cli:<login name>)")
    .action(async (idArg: string, opts: { actor?: string }) => {
      if (!/^\d+$/.test(idArg))
        throw new InputError(`suppression id must be a number, not ${JSON.stringify(idArg)}`);
      const database = await ctx.database();
      const r = await liftSuppression(
        database.db,
        { id: Number(idArg), actor: cliActor(opts.actor) },
        ctx.tagHooks,
      );
      ctx.stdout.write(
        r.changed
          ? `suppression ${r.suppression.id} lifted\n`
          : `suppression ${r.suppression.id} was already lifted at ${r.suppression.liftedAt}\n`,
      );
    });
}
