import type { Command } from "commander";
import { type AccountProfile, type ProfileTag, profileOf, type UserProfile } from "../tags/profile.ts";
import type { Suppression } from "../tags/suppress.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";
import { formatEntityTags } from "./tag.ts";

function formatSuppressions(list: Suppression[]): string {
  return list
    .map(
      (s) =>
        `  #${s.id} ${JSON.stringify(s.tag)}: ${s.ruleId ? `rule ${s.ruleId} may not claim it` : "no rule may claim it"}${s.until ? ` until ${s.until}` : ""} (by ${s.createdBy ?? "?"}${s.reason ? `: ${s.reason}` : ""})\n`,
    )
    .join("");
}

/** Why each rule holds its claim, in words, under the tags. */
function ruleReasons(tags: ProfileTag[]): string {
  let out = "";
  for (const t of tags) {
    for (const c of t.claims) {
      if (!c.rule || c.rule.because.length === 0) continue;
      const rule = c.rule.name ? `${c.rule.id} (${JSON.stringify(c.rule.name)})` : c.rule.id;
      out += `  ${t.name}: rule ${rule}${c.rule.asOf ? ` as of ${c.rule.asOf}` : ""}\n`;
      for (const why of c.rule.because) out += `    ${why}\n`;
    }
  }
  return out === "" ? "" : `why:\n${out}`;
}

function fieldLines(fields: [string, unknown][]): string {
  return fields
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `  ${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}\n`)
    .join("");
}

export function registerProfileCommands(program: Command, ctx: CliContext): void {
  program
    .command("profile")
    .description(
      "An account (fields, attributes, tags with their claims, users) or a user (fields, account, tags).",
    )
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .option("--json", "print the profile as JSON")
    .action(async (typeArg: string, id: string, opts: { json?: boolean }) => {
      const type = parseEntityType(typeArg);
      const database = await ctx.database();
      const profile = await profileOf(database.db, type, id);
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(profile, null, 2)}\n`);
        return;
      }
      let out = "";
      if (profile.type === "account") {
        const p = profile as AccountProfile;
        out += `account ${p.id}${p.name ? ` (${p.name})` : ""}\n`;
        out += fieldLines([
          ["provisioned", p.provisionedAt],
          ["contract", p.contractStatus],
          ["renewal", p.renewalDate],
          [
            "health",
            p.health === null ? null : `${p.health}${p.healthScore === null ? "" : ` (${p.healthScore})`}`,
          ],
          ["attributes", Object.keys(p.attributes).length > 0 ? p.attributes : null],
        ]);
        out += `tags:\n${formatEntityTags(p.tags)}${ruleReasons(p.tags)}`;
        if (p.suppressions.length > 0) out += `suppressions:\n${formatSuppressions(p.suppressions)}`;
        out += `users (${p.userCount}):\n`;
        for (const u of p.users)
          out += `  ${u.id}${u.email ? ` <${u.email}>` : ""}${u.tags.length ? `  [${u.tags.join(", ")}]` : ""}\n`;
        if (p.usersNextCursor) out += `  ... ${p.userCount - p.users.length} more\n`;
      } else {
        const p = profile as UserProfile;
        out += `user ${p.id}${p.name ? ` (${p.name})` : ""}\n`;
        out += fieldLines([
          ["email", p.email],
          ["created", p.createdAt],
          ["attributes", Object.keys(p.attributes).length > 0 ? p.attributes : null],
        ]);
        out += `account: ${p.account.id}${p.account.name ? ` (${p.account.name})` : ""}${p.account.tags.length ? `  [${p.account.tags.join(", ")}]` : ""}\n`;
        out += `tags:\n${formatEntityTags(p.tags)}${ruleReasons(p.tags)}`;
        if (p.suppressions.length > 0) out += `suppressions:\n${formatSuppressions(p.suppressions)}`;
      }
      ctx.stdout.write(out);
    });
}
