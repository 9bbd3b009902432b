import { createContext } from "../../src/cli/context.ts";
import { main } from "../../src/cli/main.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/client.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a signaltag command in this process against the test's database. */
export async function runCli(
  database: Database,
  argv: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const config: Config = loadConfig({ ...env });
  const ctx = createContext({
    config,
    database,
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
  });
  const code = await main(argv, ctx);
  return { code, stdout, stderr };
}

/**
 * Runs a signaltag command in this process as the shell would: configured
 * from `env` alone, opening (and closing) its database itself.
 */
export async function runCliWithEnv(argv: string[], env: Record<string, string>): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const ctx = createContext({
    config: loadConfig({ ...env }),
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
  });
  const code = await main(argv, ctx);
  return { code, stdout, stderr };
}
