import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import { useApi } from "../helpers/api.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/queue.ts";
import { powerUsersRule, rulesDir } from "../helpers/workspace.ts";

const DAY = 86_400_000;

describe.skipIf(backendUnavailable())("usage over HTTP without a queue", () => {
  const t = useTestDatabase();
  const api = useApi(t, {
    env: { SIGNALTAG_RULES_DIR: rulesDir([powerUsersRule()]), SIGNALTAG_DEBOUNCE_MS: "100" },
  });

  it("re-evaluates the touched users in the serving process, in the background", async () => {
    await t.reset();
    const { key } = await createApiKey(t.database.db, { name: "site", role: "ingest" });
    const now = Date.now();
    const batch = [
      { type: "group", userId: "u1", groupId: "acme", traits: {} },
      { type: "identify", userId: "u1", traits: {} },
      ...Array.from({ length: 20 }, (_, d) => ({
        type: "track",
        userId: "u1",
        event: "login",
        messageId: `d${d}`,
        timestamp: new Date(now - d * DAY - 60_000).toISOString(),
      })),
    ];
    const res = await api.call(key, { method: "POST", url: "/v1/batch", payload: { batch } });
    expect(res.statusCode).toBe(200);
    const claims = await waitFor("the serving process to tag the user", async () => {
      const found = await rows<{ entity_id: string; source: string }>(
        t.database.db,
        sql`select entity_id, source from claims`,
      );
      return found.length > 0 ? found : undefined;
    });
    expect(claims).toEqual([{ entity_id: "u1", source: "rule:power-users" }]);
  });
});
