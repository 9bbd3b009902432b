/**
 * Which room may import which (docs/architecture.md). Data flows one way:
 * entry points (cli, api, workers) -> jobs -> domain rooms -> db. Within the
 * domain, rooms are layered in the order below; a room imports only rooms
 * beneath it, so no two folders can import each other.
 * `npm run check:boundaries` runs it; .ci/run fails on any violation.
 */
const domain = ["facts", "rules", "webhooks", "claims", "runs", "tags", "segments"];
const standalone = ["imports", "seed", "keys", "ingest"];
const rooms = [...domain, ...standalone];
const any = (names) => `^src/(${names.join("|")})/`;

const layered = domain.map((room, i) => ({
  name: `${room}-imports-only-lower-rooms`,
  comment: `${room} may import only ${domain.slice(0, i).join(", ") || "db"} among the domain rooms`,
  severity: "error",
  from: { path: `^src/${room}/` },
  to: { path: any([...domain.slice(i + 1), ...standalone]) },
}));

module.exports = {
  forbidden: [
    {
      name: "db-imports-no-room",
      comment: "the database layer knows no domain room, job or entry point",
      severity: "error",
      from: { path: "^src/db/" },
      to: { path: [any([...rooms, "jobs", "api", "cli"]), "^workers/"] },
    },
    {
      name: "errors-and-config-are-leaves",
      comment: "error classes and configuration import nothing of signaltag but errors",
      severity: "error",
      from: { path: ["^src/errors/", "^src/config\\.ts$"] },
      to: { path: ["^src/(?!errors/)", "^workers/"] },
    },
    {
      name: "rooms-never-import-entry-points",
      comment: "a domain room never imports jobs, the API, the CLI or the workers' entry",
      severity: "error",
      from: { path: any(rooms) },
      to: { path: [any(["jobs", "api", "cli"]), "^workers/"] },
    },
    {
      name: "jobs-never-import-entry-points",
      severity: "error",
      from: { path: "^src/jobs/" },
      to: { path: [any(["api", "cli"]), "^workers/"] },
    },
    {
      name: "api-never-imports-cli",
      severity: "error",
      from: { path: "^src/api/" },
      to: { path: ["^src/cli/", "^workers/"] },
    },
    ...layered,
    ...standalone.map((room) => ({
      name: `${room}-imports-no-other-room`,
      comment: `${room} stands alone: it may use db, facts (time, entity types) and the imports' rollups (seed, ingest)`,
      severity: "error",
      from: { path: `^src/${room}/` },
      to: {
        path: any(
          rooms.filter(
            (r) =>
              r !== room && r !== "facts" && !((room === "seed" || room === "ingest") && r === "imports"),
          ),
        ),
      },
    })),
    {
      name: "no-cycles-between-folders",
      comment: "a cycle of imports that leaves its folder ties two rooms together",
      severity: "error",
      from: { path: "^(src/[^/]+|workers)/" },
      to: { circular: true, viaSomeNot: "^$1/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^(node_modules|test|bench|scripts|drizzle)/" },
  },
};
