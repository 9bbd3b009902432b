/**
 * Each test run migrates its own template, so runs started side by side (a
 * developer's and CI's) never drop each other's; so does each vitest project
 * with a Postgres setup of its own (the queue project), as projects run at once.
 */
export function templateName(project = "postgres"): string {
  const suffix = project === "postgres" ? "" : `_${project.replace(/[^a-z0-9_]/gi, "_")}`;
  return `signaltag_test_template_${process.pid}${suffix}`;
}

/** The server the Postgres suites use; TEST_POSTGRES_URL overrides the local default. */
export function adminUrl(): string {
  return process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}
