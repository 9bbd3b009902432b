import os from "node:os";

/** Who a change made from the command line is recorded as: `--actor`, or `cli:<login name>`. */
export function cliActor(given: string | undefined): string {
  if (given?.trim()) return given.trim();
  let user = process.env.USER ?? process.env.LOGNAME;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = "unknown";
    }
  }
  return `cli:${user}`;
}
