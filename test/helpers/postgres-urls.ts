export const TEMPLATE_DB = "signaltag_test_template";

/** The server the Postgres suites use; TEST_POSTGRES_URL overrides the local default. */
export function adminUrl(): string {
  return process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}
