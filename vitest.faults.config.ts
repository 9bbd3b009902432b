import { defineConfig } from "vitest/config";

/**
 * The fault suite (`npm run test:faults`): Postgres restarts, Redis restarts,
 * killed workers, cut network links. It starts a Postgres cluster and a Redis
 * of its own on free ports and restarts them at will, so its files run one at
 * a time and never against the shared services.
 */
export default defineConfig({
  test: {
    name: "faults",
    include: ["test/faults/**/*.test.ts"],
    reporters: ["default", "./test/helpers/totals-reporter.ts"],
    env: { SIGNALTAG_TEST_BACKEND: "postgres" },
    globalSetup: [
      "./test/faults/services-setup.ts",
      "./test/helpers/postgres-setup.ts",
      "./test/helpers/redis-setup.ts",
    ],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
