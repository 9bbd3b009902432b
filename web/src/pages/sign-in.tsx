import { type FormEvent, useState } from "react";
import { ApiError, getJson, type Role } from "../api.ts";

export function SignIn({
  onSignedIn,
}: {
  onSignedIn: (s: { key: string; name: string; role: Role }) => void;
}) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await getJson<{ name: string; role: Role }>("/v1/me", key.trim());
      onSignedIn({ key: key.trim(), ...me });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That API key is unknown or revoked. Create one with: signaltag keys create --name NAME --role editor"
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in">
      <h1>signaltag</h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <p className="muted">
          The key stays in this browser tab only (session storage). <code>npx signaltag demo</code> prints
          one.
        </p>
      </form>
    </main>
  );
}
