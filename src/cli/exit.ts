/** Thrown by a command that has already said what went wrong and only sets the exit code. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Exit code of a usage error or a missing prerequisite (configuration, database, Redis). */
export const EXIT_PREREQUISITE = 2;

/** Exit code of a run the removal guard held (nothing failed; `--force` applies it). */
export const EXIT_HELD = 3;
