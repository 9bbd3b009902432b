/**
 * Writes rules/rule.schema.json from the zod definition of the rule format
 * (src/rules/schema.ts). Run with `npm run rules:schema` after changing the
 * format or the fact catalog; a unit test fails while the file is stale.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ruleJsonSchemaText } from "../src/rules/schema.ts";

const target = fileURLToPath(new URL("../rules/rule.schema.json", import.meta.url));
await writeFile(target, ruleJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
