import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Spawned {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<Exit>;
}

/**
 * A `signaltag` command as a child process of the test, with its output
 * collected and its exit awaited; `prefix` runs it through another command
 * (`ip netns exec NAME` for a host of its own).
 */
export function spawnSignaltag(args: string[], opts: { env: NodeJS.ProcessEnv; prefix?: string[] }): Spawned {
  const [file, ...rest] = [
    ...(opts.prefix ?? []),
    process.execPath,
    path.join(root, "bin/signaltag.js"),
    ...args,
  ];
  const child = spawn(file!, rest, { cwd: root, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<Exit>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => out, exited };
}
