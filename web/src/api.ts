/** The console's only way to the server: the JSON API with the signed-in key as a Bearer header. */

const KEY = "signaltag.key";

export type Role = "viewer" | "editor" | "admin";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

/** An API answer that was not 2xx, with the server's own words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(res.status, body.error.code ?? "error", body.error.message);
  } catch {
    // Not JSON: a proxy's page or a dropped connection; the status says what it can.
  }
  return new ApiError(res.status, "http_error", `the server answered ${res.status} ${res.statusText}`);
}

export async function request(path: string, init: RequestInit = {}, key = storedKey()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key) headers.set("authorization", `Bearer ${key}`);
  if (init.body !== undefined && typeof init.body === "string")
    headers.set("content-type", "application/json");
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    throw new ApiError(0, "network", `the server could not be reached (${(err as Error).message})`);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

export async function getJson<T>(path: string, key?: string): Promise<T> {
  return (await request(path, {}, key)).json() as Promise<T>;
}

export async function sendJson<T>(method: string, path: string, body: unknown): Promise<T> {
  return (await request(path, { method, body: JSON.stringify(body) })).json() as Promise<T>;
}

export const enc = encodeURIComponent;

export function canEdit(role: Role): boolean {
  return role === "editor" || role === "admin";
}

/** A file download of an authenticated GET (a link cannot carry the Bearer header). */
export async function download(path: string, filename: string, init: RequestInit = {}): Promise<void> {
  const res = await request(path, init);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
