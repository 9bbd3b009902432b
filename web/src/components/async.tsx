import { type ReactNode, useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api.ts";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "error"; error: ApiError | Error }
  | { state: "done"; value: T };

/**
 * Loads `load()` whenever `deps` change; `reload` loads again and keeps
 * showing the current value meanwhile (so forms on it keep their messages).
 * Answers to superseded loads are dropped.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  const reloading = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what the load depends on
  useEffect(() => {
    let current = true;
    if (!reloading.current) setResult({ state: "loading" });
    reloading.current = false;
    load().then(
      (value) => current && setResult({ state: "done", value }),
      (error: Error) => current && setResult({ state: "error", error }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => {
    reloading.current = true;
    setRound((r) => r + 1);
  }, []);
  return [result, reload];
}

export function ErrorNote({ error, what }: { error: Error; what: string }) {
  const status = error instanceof ApiError && error.status > 0 ? ` (HTTP ${error.status})` : "";
  return (
    <p role="alert" className="error">
      Could not {what}
      {status}: {error.message}
    </p>
  );
}

/** The three states of a load: a spinner line, an error that says what failed, or the content. */
export function Show<T>({
  loaded,
  what,
  children,
}: {
  loaded: Loaded<T>;
  what: string;
  children: (value: T) => ReactNode;
}) {
  if (loaded.state === "loading") {
    return (
      <p className="muted" aria-live="polite">
        Loading {what}…
      </p>
    );
  }
  if (loaded.state === "error") return <ErrorNote error={loaded.error} what={`load ${what}`} />;
  return <>{children(loaded.value)}</>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function sourceWords(source: string): string {
  if (source === "manual") return "by hand";
  if (source === "bulk") return "in bulk";
  if (source === "file") return "from a file";
  if (source.startsWith("rule:")) return `rule ${source.slice(5)}`;
  return source;
}
