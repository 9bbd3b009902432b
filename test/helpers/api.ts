import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { createApiKey } from "../../src/keys/keys.ts";
import type { TestDatabase } from "./db.ts";

export type Role = "viewer" | "editor" | "admin";

export interface TestApi {
  readonly app: FastifyInstance;
  /** Creates one key per role (after a reset emptied api_keys) and returns them. */
  createKeys(): Promise<Record<Role, string>>;
  /** An injected request with `Authorization: Bearer key`. */
  call(key: string | undefined, opts: InjectOptions): Promise<LightMyRequestResponse>;
}

/** The real HTTP server over the test's database, driven through inject. */
export function useApi(
  t: TestDatabase,
  opts: { env?: Record<string, string>; clock?: () => Date } = {},
): TestApi {
  let app: FastifyInstance | undefined;
  let config: Config;
  beforeAll(async () => {
    config = loadConfig({ ...opts.env });
    app = await buildServer({ database: t.database, config, logger: false, clock: opts.clock });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
  });
  return {
    get app() {
      if (!app) throw new Error("server used outside a test");
      return app;
    },
    async createKeys() {
      const keys = {} as Record<Role, string>;
      for (const role of ["viewer", "editor", "admin"] as const) {
        keys[role] = (await createApiKey(t.database.db, { name: `${role}-key`, role })).key;
      }
      return keys;
    },
    call(key, request) {
      const headers = { ...(request.headers ?? {}) } as Record<string, string>;
      if (key !== undefined) headers.authorization = `Bearer ${key}`;
      return this.app.inject({ ...request, headers });
    },
  };
}
