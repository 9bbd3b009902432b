import { sql } from "drizzle-orm";
import { beforeEach } from "vitest";
import { createApiKey } from "../../src/keys/keys.ts";
import { type TestApi, useApi } from "./api.ts";
import type { TestDatabase } from "./db.ts";
import { rulesDir } from "./workspace.ts";

/**
 * The server over the test's database, for the tracking API: before each
 * test an empty workspace (nothing waiting either) and a fresh ingest key.
 */
export function useIngestApi(t: TestDatabase): { readonly api: TestApi; readonly key: string } {
  const api = useApi(t, { env: { SIGNALTAG_RULES_DIR: rulesDir([]) } });
  let key: string | undefined;
  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(sql`truncate ingest_waiting`);
    key = (await createApiKey(t.database.db, { name: "tracking", role: "ingest" })).key;
  });
  return {
    api,
    get key() {
      if (key === undefined) throw new Error("ingest key used outside a test");
      return key;
    },
  };
}
