// Who is calling and where their frameworks live: credentials (HTTP Basic, bearer tokens) ->
// principal -> namespace. Without credentials nobody authenticates and FrameworkInfo's principal
// is trusted, as an unauthenticated Mesos master trusts it — only when `allowUnauthenticated`
// says so (credentialsCheck). Secrets are compared as SHA-256 digests with timingSafeEqual (equal
// lengths, no early exit on the first differing byte); principals and tokens are Map keys, so
// `__proto__` or `constructor` is a name like any other.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http.ts";

export interface MesosAuthentication {
  /** HTTP Basic: user (= principal) -> password. */
  basic?: Record<string, string>;
  /** Bearer tokens: token -> principal. */
  bearer?: Record<string, string>;
}

export interface TenancyOptions {
  /** When it holds credentials, every request must authenticate; the principal is the authenticated one. */
  authentication?: MesosAuthentication | undefined;
  /** Principal -> namespace its frameworks live in. */
  namespaces?: Record<string, string> | undefined;
  /** Namespace of principals not listed (and of frameworks without a principal); unset: they are refused. */
  defaultNamespace?: string | undefined;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** A record's own entries only (never what Object.prototype carries). */
const ownEntries = (r: Record<string, string> | undefined): [string, string][] => Object.entries(r ?? {});

/** True when `a` holds at least one credential. */
export function hasCredentials(a: MesosAuthentication | undefined): boolean {
  return ownEntries(a?.basic).length > 0 || ownEntries(a?.bearer).length > 0;
}

/**
 * Serving without authentication must be asked for: the error (naming the settings) when there
 * are no credentials and `allowUnauthenticated` is not true, or when both are set.
 */
export function credentialsCheck(
  authentication: MesosAuthentication | undefined,
  allowUnauthenticated: boolean | undefined,
): string | undefined {
  const creds = hasCredentials(authentication);
  if (!creds && allowUnauthenticated !== true)
    return "no credentials are configured (mesos.authentication.basic or .bearer): configure some, or set mesos.allowUnauthenticated: true to serve the Mesos API without authentication (anyone who can reach the port can act as any principal)";
  if (creds && allowUnauthenticated === true)
    return "mesos.allowUnauthenticated: true contradicts mesos.authentication: with credentials every request authenticates; drop one of them";
  return undefined;
}

/** Compared against when a user is unknown, so an unknown user costs what a wrong password does. */
const NO_PASSWORD = digest("\0no such user\0");

export class Tenancy {
  /** user -> digest of its password. */
  private readonly basic: Map<string, Buffer> | undefined;
  /** digest of a token, and its principal. */
  private readonly bearer: { digest: Buffer; principal: string }[] | undefined;
  private readonly namespaces: Map<string, string>;
  private readonly defaultNamespace: string | undefined;

  constructor(o: TenancyOptions) {
    const basic = ownEntries(o.authentication?.basic);
    const bearer = ownEntries(o.authentication?.bearer);
    this.basic = basic.length ? new Map(basic.map(([u, p]) => [u, digest(p)])) : undefined;
    this.bearer = bearer.length
      ? bearer.map(([t, principal]) => ({ digest: digest(t), principal }))
      : undefined;
    this.namespaces = new Map(ownEntries(o.namespaces));
    this.defaultNamespace = o.defaultNamespace || undefined;
  }

  /** True when every request must authenticate. */
  get authenticating(): boolean {
    return this.basic !== undefined || this.bearer !== undefined;
  }

  /** The authenticated principal; undefined when authentication is off. 401 when it fails. */
  authenticate(req: IncomingMessage): string | undefined {
    if (!this.authenticating) return undefined;
    const challenge = {
      "www-authenticate": this.basic ? 'Basic realm="mesos"' : 'Bearer realm="mesos"',
    };
    const h = req.headers.authorization ?? "";
    const [scheme, cred = ""] = h.split(/\s+/, 2);
    if (/^basic$/i.test(scheme ?? "") && this.basic) {
      const text = Buffer.from(cred, "base64").toString("utf8");
      const i = text.indexOf(":");
      const user = i < 0 ? text : text.slice(0, i);
      const pass = i < 0 ? "" : text.slice(i + 1);
      const want = this.basic.get(user);
      if (timingSafeEqual(digest(pass), want ?? NO_PASSWORD) && want !== undefined) return user;
    } else if (/^bearer$/i.test(scheme ?? "") && this.bearer) {
      const got = digest(cred);
      let principal: string | undefined;
      // Every token is compared: how long this takes says nothing about which one matched.
      for (const t of this.bearer)
        if (timingSafeEqual(got, t.digest) && principal === undefined) principal = t.principal;
      if (principal !== undefined) return principal;
    }
    throw new HttpError(401, "Unauthorized: authentication is required", challenge);
  }

  /** A framework's principal: the authenticated one, which FrameworkInfo.principal must match (400). */
  principalOf(declared: string | undefined, authenticated: string | undefined): string | undefined {
    if (authenticated === undefined) return declared;
    if (declared !== undefined && declared !== authenticated)
      throw new HttpError(
        400,
        `Authenticated principal '${authenticated}' does not match principal '${declared}' set in 'FrameworkInfo'`,
      );
    return authenticated;
  }

  /** The namespace of a principal's frameworks; 403 when it has none. */
  namespaceOf(principal: string | undefined): string {
    const ns =
      (principal !== undefined ? this.namespaces.get(principal) : undefined) || this.defaultNamespace;
    if (!ns)
      throw new HttpError(
        403,
        principal === undefined
          ? "Frameworks without a principal are not allowed here: set FrameworkInfo.principal (or authenticate)"
          : `Principal '${principal}' is not allowed to register frameworks (no namespace is configured for it)`,
      );
    return ns;
  }

  /** The namespaces a caller may look into: an authenticated principal its own, otherwise all configured. */
  visibleNamespaces(principal: string | undefined): string[] {
    return principal !== undefined
      ? [this.namespaceOf(principal)]
      : [...this.namespaces.values(), ...(this.defaultNamespace ? [this.defaultNamespace] : [])];
  }
}
