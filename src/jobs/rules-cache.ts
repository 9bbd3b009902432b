import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { LoadedRule } from "../rules/types.ts";
import { loadValidRules } from "../runs/runner.ts";

let cached: { dir: string; signature: string; rules: LoadedRule[] } | undefined;

/**
 * The validated rules of a directory, read again only when a file in it
 * changed (name, size or modification time): a worker checks on every job,
 * so an edited rule takes effect with the next job, without parsing and
 * validating every file for each single-entity re-evaluation.
 */
export async function loadRulesCached(dir: string): Promise<LoadedRule[]> {
  let signature: string;
  try {
    const names = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
    const stats = await Promise.all(names.map((f) => stat(path.join(dir, f))));
    signature = names.map((f, i) => `${f}:${stats[i]!.size}:${stats[i]!.mtimeMs}`).join("|");
  } catch {
    // Let the loader report a missing or unreadable directory in its own words.
    return loadValidRules(dir);
  }
  if (cached && cached.dir === dir && cached.signature === signature) return cached.rules;
  const rules = await loadValidRules(dir);
  cached = { dir, signature, rules };
  return rules;
}
