import { defineConfig } from "vitest/config";

const integration = ["test/integration/**/*.test.ts"];

export default defineConfig({
  test: {
    reporters: ["default", "./test/helpers/totals-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: {
          name: "pglite",
          include: integration,
          env: { SIGNALTAG_TEST_BACKEND: "pglite" },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "postgres",
          include: integration,
          env: { SIGNALTAG_TEST_BACKEND: "postgres" },
          globalSetup: ["./test/helpers/postgres-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Workers and scheduling: real Postgres and Redis; each file uses its own queue prefix.
        test: {
          name: "queue",
          include: ["test/queue/**/*.test.ts"],
          env: { SIGNALTAG_TEST_BACKEND: "postgres" },
          globalSetup: ["./test/helpers/postgres-setup.ts", "./test/helpers/redis-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The web console in headless Chromium (playwright-core) against the server on Postgres.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          env: { SIGNALTAG_TEST_BACKEND: "postgres" },
          globalSetup: ["./test/helpers/postgres-setup.ts", "./test/e2e/build-console.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
