// client-node's ApiException carries the raw response text as `body` (not a parsed Status)
// and an unreadable message full of headers; these helpers get at the code and the reason.
export function statusCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.code === "number") return e.code;
  if (typeof e?.statusCode === "number") return e.statusCode;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return statusCode(err) === 409;
}

export function isAlreadyExists(err: unknown): boolean {
  return statusCode(err) === 409 && /AlreadyExists/.test(String((err as { body?: unknown }).body ?? ""));
}

/** The API server's own message (from the Status body) when there is one. */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string } | null;
  const body = e?.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return body.slice(0, 500);
    }
  } else if (body && typeof body === "object" && "message" in body) {
    return String((body as { message: unknown }).message);
  }
  const code = statusCode(err);
  const msg = e?.message?.split("\n")[0] ?? String(err);
  return code ? `HTTP ${code}: ${msg}` : msg;
}
