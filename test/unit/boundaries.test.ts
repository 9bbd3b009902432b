import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cruise } from "dependency-cruiser";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ruleSet = createRequire(import.meta.url)(path.join(root, ".dependency-cruiser.cjs"));

async function violations(baseDir: string): Promise<string[]> {
  const result = await cruise(["src"], { baseDir, ruleSet, tsPreCompilationDeps: true, validate: true });
  const output = result.output as { summary: { violations: { rule: { name: string }; from: string }[] } };
  return output.summary.violations.map((v) => `${v.rule.name} ${v.from}`).sort();
}

describe("folder boundaries", () => {
  // In the fixture, db imports runs (forbidden), tags imports runs (allowed: a lower room), and imports and
  // seed import each other (seed may import imports; imports may not import seed; the two form a cycle).
  it("fail when the database layer imports a room, or two folders import each other, and allow a room to import a lower one", async () => {
    expect(await violations(path.join(root, "test/fixtures/boundaries"))).toEqual([
      "db-imports-no-room src/db/client.ts",
      "imports-imports-no-other-room src/imports/a.ts",
      "no-cycles-between-folders src/imports/a.ts",
    ]);
  });
});
