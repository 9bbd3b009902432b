import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { createApiKey, listKeys, parseRole, revokeKey } from "../keys/keys.ts";
import type { CliContext } from "./context.ts";
import { table } from "./format.ts";

export function registerKeysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command("keys").description("HTTP API keys: create, list, revoke.");
  keys
    .command("create")
    .description("Create an API key; it is printed once, alone on stdout, and only its hash is stored.")
    .requiredOption("--name <name>", "who the key is for; recorded as the actor of its changes")
    .requiredOption(
      "--role <role>",
      "viewer (reads), editor (tags single entities), admin (bulk, files, runs) or ingest (only sends usage to /v1/batch, /v1/track, /v1/identify, /v1/group)",
    )
    .action(async (opts: { name: string; role: string }) => {
      const role = parseRole(opts.role);
      const database = await ctx.database();
      const { key, row } = await createApiKey(database.db, { name: opts.name, role });
      ctx.stdout.write(`${key}\n`);
      const send =
        row.role === "ingest"
          ? 'Use it as a Segment write key (HTTP Basic, the key as user name) or as "Authorization: Bearer <key>".'
          : 'Send it as "Authorization: Bearer <key>".';
      ctx.stderr.write(
        `created ${row.role} key ${row.id} (${row.name}); store it now: signaltag keeps only its hash. ${send}\n`,
      );
    });
  keys
    .command("list")
    .description("Every key: id, name, role, prefix, when created, last used and revoked.")
    .option("--json", "print one JSON array")
    .action(async (opts: { json?: boolean }) => {
      const database = await ctx.database();
      const list = await listKeys(database.db);
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(list)}\n`);
        return;
      }
      if (list.length === 0) {
        ctx.stdout.write(
          "no API keys yet: signaltag keys create --name NAME --role viewer|editor|admin|ingest\n",
        );
        return;
      }
      ctx.stdout.write(
        table(
          ["id", "name", "role", "prefix", "created", "last used", "status"],
          list.map((k) => [
            k.id,
            k.name,
            k.role,
            `${k.prefix}...`,
            k.createdAt,
            k.lastUsedAt ?? "never",
            k.revokedAt ? `revoked ${k.revokedAt}` : "active",
          ]),
        ),
      );
    });
  keys
    .command("revoke")
    .description("Revoke a key by its name or id: requests with it get 401 from then on.")
    .argument("<name-or-id>", "the key's name (active keys) or id")
    .action(async (nameOrId: string) => {
      if (nameOrId.trim() === "") throw new InputError("give the key's name or id");
      const database = await ctx.database();
      const key = await revokeKey(database.db, nameOrId.trim());
      ctx.stdout.write(`revoked key ${key.id} (${key.name}, ${key.role})\n`);
    });
}
