import fs from "node:fs";

/** What one try of one fault came to; the suite prints them grouped by fault. */
export interface FaultTry {
  fault: string;
  /** Assignments and history equal to a clean inline run's. */
  matched: boolean;
  /** Worker or server processes that died on their own (not the one the fault killed). */
  crashes: number;
  /** Tag events recorded twice. */
  duplicates: number;
  /** Outcome in words when it is not simply "completed" (e.g. "lost with Redis's data; re-enqueued"). */
  outcome?: string;
  /** How long the workers did no work because of the fault. */
  downtimeMs?: number;
  /** From a worker's kill until another worker took up its job. */
  takenUpMs?: number;
}

export function recordTry(file: string, t: FaultTry): void {
  fs.appendFileSync(file, `${JSON.stringify(t)}\n`);
}

function spread(values: number[]): string {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${(median / 1000).toFixed(1)} s (max ${(sorted.at(-1)! / 1000).toFixed(1)} s)`;
}

/** The figures table: fault → outcome counts, downtime, time until a killed worker's job is taken up. */
export function faultTable(tries: FaultTry[]): string {
  const byFault = new Map<string, FaultTry[]>();
  for (const t of tries) byFault.set(t.fault, [...(byFault.get(t.fault) ?? []), t]);
  const header = [
    "fault",
    "tries",
    "= clean run",
    "crashes",
    "duplicates",
    "outcome",
    "downtime",
    "taken up",
  ];
  const rows = [...byFault].map(([fault, ts]) => [
    fault,
    String(ts.length),
    String(ts.filter((t) => t.matched).length),
    String(ts.reduce((n, t) => n + t.crashes, 0)),
    String(ts.reduce((n, t) => n + t.duplicates, 0)),
    [...new Set(ts.map((t) => t.outcome ?? "completed"))].join("; "),
    spread(ts.flatMap((t) => (t.downtimeMs === undefined ? [] : [t.downtimeMs]))),
    spread(ts.flatMap((t) => (t.takenUpMs === undefined ? [] : [t.takenUpMs]))),
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function printFigures(file: string): void {
  if (!fs.existsSync(file)) return;
  const tries = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FaultTry);
  if (tries.length === 0) return;
  process.stdout.write(`\nfault suite figures (downtime and taken up: median, max)\n${faultTable(tries)}\n`);
}
