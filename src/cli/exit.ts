/** Thrown by a command that has already said what went wrong and only sets the exit code. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
