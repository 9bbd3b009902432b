/**
 * Message times as Segment computes them. A client's clock may be wrong, but
 * the difference between two readings of it is not: with `sentAt` (when the
 * client sent the request, by its clock) the event happened `sentAt -
 * timestamp` before the server received it, so timestamp = receivedAt -
 * (sentAt - timestamp). Without sentAt the timestamp is taken as given, and
 * without a timestamp the event happened when it was received.
 */

/** An ISO-8601 date or date-time; undefined when `value` is not one. */
export function parseInstant(value: unknown): number | undefined {
  if (
    typeof value !== "string" ||
    !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
  ) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export type Corrected = { ok: true; at: number } | { ok: false; field: string };

export function correctedTime(
  msg: { timestamp?: unknown; originalTimestamp?: unknown; sentAt?: unknown },
  batchSentAt: unknown,
  receivedAt: number,
): Corrected {
  const field = msg.timestamp !== undefined && msg.timestamp !== null ? "timestamp" : "originalTimestamp";
  const raw = field === "timestamp" ? msg.timestamp : msg.originalTimestamp;
  if (raw === undefined || raw === null) return { ok: true, at: receivedAt };
  const at = parseInstant(raw);
  if (at === undefined) return { ok: false, field };
  const sentRaw = msg.sentAt ?? batchSentAt;
  if (sentRaw === undefined || sentRaw === null) return { ok: true, at };
  const sentAt = parseInstant(sentRaw);
  if (sentAt === undefined) return { ok: false, field: msg.sentAt !== undefined ? "sentAt" : "batch sentAt" };
  return { ok: true, at: receivedAt - (sentAt - at) };
}
