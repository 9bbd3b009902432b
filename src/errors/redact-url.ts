/**
 * A connection URL without its password, for messages and logs. It lives
 * beside the error classes so configuration, jobs and entry points share one
 * helper (configuration may import nothing but errors).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    // Not a URL `new URL` accepts: still mask whatever sits between "user:" and "@".
    return url.replace(/^([^:/?#\s]*:\/\/[^:/?#@\s]*:)[^@]*@/, "$1***@");
  }
}
