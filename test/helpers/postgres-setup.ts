import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { openPostgres } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { adminUrl, databaseUrl, templateName } from "./postgres-urls.ts";

declare module "vitest" {
  export interface ProvidedContext {
    postgresAvailable: boolean;
    postgresTemplate: string;
  }
}

/**
 * Migrates a template database once per run; each test file clones it. With
 * CI=true an unreachable Postgres fails the run instead of skipping the suite.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin`select 1`;
  } catch (err) {
    await admin.end({ timeout: 1 });
    if (process.env.CI === "true") {
      throw new Error(`Postgres is required in CI and is not reachable at ${adminUrl()}: ${String(err)}`);
    }
    process.stderr.write(
      `postgres suite skipped: Postgres not reachable at ${adminUrl()} (set CI=true to fail)\n`,
    );
    project.provide("postgresAvailable", false);
    project.provide("postgresTemplate", "");
    return async () => {};
  }
  const template = templateName(project.name);
  await admin.unsafe(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${template}`);
  const database = await openPostgres(databaseUrl(template), { max: 1 });
  try {
    await migrate(database);
  } finally {
    await database.close();
  }
  project.provide("postgresAvailable", true);
  project.provide("postgresTemplate", template);
  return async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.end({ timeout: 5 });
  };
}
