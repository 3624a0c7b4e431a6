// Who is calling and where their frameworks live: credentials (HTTP Basic, bearer tokens) ->
// principal -> namespace. Without `authentication` nobody authenticates and FrameworkInfo's
// principal is trusted, as an unauthenticated Mesos master trusts it.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http.ts";

export interface MesosAuthentication {
  /** HTTP Basic: user (= principal) -> password. */
  basic?: Record<string, string>;
  /** Bearer tokens: token -> principal. */
  bearer?: Record<string, string>;
}

export interface TenancyOptions {
  /** When set, every request must authenticate; the principal is the authenticated one. */
  authentication?: MesosAuthentication | undefined;
  /** Principal -> namespace its frameworks live in. */
  namespaces?: Record<string, string> | undefined;
  /** Namespace of principals not listed (and of frameworks without a principal); unset: they are refused. */
  defaultNamespace?: string | undefined;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Tenancy {
  private readonly o: TenancyOptions;

  constructor(o: TenancyOptions) {
    this.o = o;
  }

  /** The authenticated principal; undefined when authentication is off. 401 when it fails. */
  authenticate(req: IncomingMessage): string | undefined {
    const a = this.o.authentication;
    if (!a || (!a.basic && !a.bearer)) return undefined;
    const challenge = {
      "www-authenticate": a.basic ? 'Basic realm="mesos"' : 'Bearer realm="mesos"',
    };
    const h = req.headers.authorization ?? "";
    const [scheme, cred = ""] = h.split(/\s+/, 2);
    if (/^basic$/i.test(scheme ?? "") && a.basic) {
      const text = Buffer.from(cred, "base64").toString("utf8");
      const i = text.indexOf(":");
      const user = i < 0 ? text : text.slice(0, i);
      const pass = i < 0 ? "" : text.slice(i + 1);
      const want = Object.hasOwn(a.basic, user) ? a.basic[user] : undefined;
      if (want !== undefined && equal(pass, want)) return user;
    } else if (/^bearer$/i.test(scheme ?? "") && a.bearer) {
      for (const [token, principal] of Object.entries(a.bearer)) if (equal(cred, token)) return principal;
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
    const ns = (principal !== undefined && this.o.namespaces?.[principal]) || this.o.defaultNamespace;
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
      : [
          ...Object.values(this.o.namespaces ?? {}),
          ...(this.o.defaultNamespace ? [this.o.defaultNamespace] : []),
        ];
  }
}
