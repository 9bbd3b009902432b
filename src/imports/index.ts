/** The import library: what the CLI, the API and event-driven ingestion call. */
export { healthFromScore, importAccounts } from "./accounts.ts";
export { type ImportEventsOptions, importEvents } from "./events.ts";
export { formatOf, type ImportFormat, type ImportSource } from "./source.ts";
export type {
  FallbackReason,
  ImportEntity,
  ImportFallback,
  ImportOptions,
  ImportPath,
  ImportProblem,
  ImportProgress,
  ImportResult,
} from "./types.ts";
export { importUsers } from "./users.ts";
