import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { pathWords } from "./words.ts";

export const attributes: Fact = {
  name: "attributes",
  targets: ["user", "account"],
  params: {},
  valueType: "object",
  nullable: false,
  usesPath: true,
  description: "the entity's attributes object (test a field with `path`, e.g. $.plan)",
  value: (e) => e.attributes,
  sql: () => sql`e.attributes`,
  words: pathWords("attribute"),
};
