import { InputError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";

/** What every `<type>` argument of the CLI says it takes. */
export const ENTITY_TYPE_ARGUMENT = "user or account (users and accounts work too)";

/**
 * The one reading of an entity type on the command line: singular or plural,
 * any case (`segment users`, `tag add user`).
 */
export function parseEntityType(value: string): EntityType {
  const v = value.trim().toLowerCase();
  if (v === "user" || v === "users") return "user";
  if (v === "account" || v === "accounts") return "account";
  throw new InputError(
    `entity type must be user or account (or users, accounts), not ${JSON.stringify(value)}`,
  );
}
