/** The import library: what the CLI, the API and event-driven ingestion call. */
export { healthFromScore, importAccounts } from "./import-accounts.ts";
export { type ImportEventsOptions, importEvents } from "./import-events.ts";
export { formatOf, type ImportFormat, type ImportSource } from "./import-source.ts";
export type {
  ImportEntity,
  ImportOptions,
  ImportProblem,
  ImportProgress,
  ImportResult,
} from "./import-types.ts";
export { importUsers } from "./import-users.ts";
