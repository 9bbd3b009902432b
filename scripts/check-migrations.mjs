#!/usr/bin/env node
// Fails when src/db/schema and the committed drizzle/ migrations disagree:
// drizzle-kit generates into a scratch copy of drizzle/, and any new file there
// means the schema changed without a committed migration.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "signaltag-drift-"));
try {
  fs.cpSync(path.join(root, "drizzle"), scratch, { recursive: true });
  const config = path.join(scratch, "drizzle.config.mjs");
  fs.writeFileSync(
    config,
    `export default { dialect: "postgresql", schema: ${JSON.stringify(path.join(root, "src/db/schema/index.ts"))}, out: ${JSON.stringify(scratch)} };\n`,
  );
  const list = () =>
    fs
      .readdirSync(scratch, { recursive: true })
      .filter((f) => String(f).endsWith(".sql"))
      .sort();
  const before = list();
  const run = spawnSync(path.join(root, "node_modules/.bin/drizzle-kit"), ["generate", "--config", config], {
    cwd: root,
    encoding: "utf8",
  });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    process.stderr.write("migration check: drizzle-kit generate failed\n");
    process.exit(1);
  }
  const added = list().filter((f) => !before.includes(f));
  if (added.length > 0) {
    process.stderr.write(
      `migration check: src/db/schema differs from the committed migrations in drizzle/ (drizzle-kit would generate ${added.join(", ")}).\nRun \`npm run db:generate\` and commit the new migration.\n`,
    );
    process.exit(1);
  }
  process.stdout.write("migration check: schema and committed migrations agree\n");
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
