/**
 * Each test run migrates its own template, so runs started side by side (a
 * developer's and CI's) never drop each other's.
 */
export function templateName(): string {
  return `signaltag_test_template_${process.pid}`;
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
