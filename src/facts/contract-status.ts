import { sql } from "drizzle-orm";
import type { Fact } from "./fact.ts";
import { labelWords } from "./words.ts";

export const contractStatus: Fact = {
  name: "contractStatus",
  targets: ["account"],
  params: {},
  valueType: "string",
  nullable: true,
  enumValues: ["trial", "paying", "churned"],
  description: "the account's contract status",
  value: (e) => e.contractStatus ?? null,
  sql: () => sql`e.contract_status`,
  words: labelWords("contract status", "no contract status"),
};
