// Errors the SDK throws. Each says what went wrong and what to do about it; `code` is stable
// for programs, the message is for people.
import { GROUP, PLURAL } from "../crds/contract.ts";
import { apiMessage, statusCode } from "../kube/errors.ts";

export type SdkErrorCode =
  | "OfferNotUsable"
  | "OfferAlreadyAnswered"
  | "InvalidLaunch"
  | "NotConnected"
  | "NotStarted"
  | "FrameworkTerminating"
  | "ApiError"
  | "Timeout";

export class KubeOffersError extends Error {
  override name = "KubeOffersError";
  readonly code: SdkErrorCode;
  /** What to do about it. Also the end of `message`. */
  readonly hint: string;
  constructor(code: SdkErrorCode, what: string, hint: string, options?: { cause?: unknown }) {
    super(`${what}. ${hint}`, options);
    this.code = code;
    this.hint = hint;
  }
}

/** The offer was rescinded, expired, declined or deleted: its resources are no longer yours. */
export class OfferNotUsableError extends KubeOffersError {
  override name = "OfferNotUsableError";
  readonly offer: string;
  /** The offer's phase (Rescinded, Expired, Declined, Accepted, Invalid) or "Gone" when deleted. */
  readonly phase: string;
  constructor(offer: string, phase: string, reason?: string, message?: string) {
    const why = [reason, message].filter(Boolean).join(": ");
    super(
      "OfferNotUsable",
      phase === "Gone"
        ? `offer ${offer} no longer exists`
        : `offer ${offer} is ${phase}${why ? ` (${why})` : ""}`,
      "Its resources can no longer be used: nothing was launched. Wait for the next offer (client.offers() or the 'offer' event)",
    );
    this.offer = offer;
    this.phase = phase;
  }
}

/** spec.response is write-once and this offer already carries a different answer. */
export class OfferAlreadyAnsweredError extends KubeOffersError {
  override name = "OfferAlreadyAnsweredError";
  readonly offer: string;
  constructor(offer: string, existing: string) {
    super(
      "OfferAlreadyAnswered",
      `offer ${offer} was already answered (${existing}); spec.response is write-once`,
      "Answer each offer once, with all its operations in a single accept(); launch more tasks from the next offer",
    );
    this.offer = offer;
  }
}

/** The launch would be refused by the operator (or the API server): nothing was written. */
export class InvalidLaunchError extends KubeOffersError {
  override name = "InvalidLaunchError";
  constructor(what: string) {
    super(
      "InvalidLaunch",
      what,
      "Nothing was written; fix the tasks (ids, resources, template) and answer the offer again",
    );
  }
}

/** Another instance of this scheduler holds the liveness Lease (or it could not be renewed), or the Framework was deleted. */
export class NotConnectedError extends KubeOffersError {
  override name = "NotConnectedError";
  constructor(what: string) {
    super(
      "NotConnected",
      what,
      "This instance is standing by: only the holder of the liveness Lease may answer offers or kill tasks. Wait for the 'connected' event",
    );
  }
}

export class NotStartedError extends KubeOffersError {
  override name = "NotStartedError";
  constructor(op: string) {
    super(
      "NotStarted",
      `${op}() called before start() completed or after stop()`,
      "Call await client.start() first",
    );
  }
}

export class FrameworkTerminatingError extends KubeOffersError {
  override name = "FrameworkTerminatingError";
  constructor(ns: string, name: string) {
    super(
      "FrameworkTerminating",
      `Framework ${ns}/${name} is being deleted (its tasks are being killed)`,
      "Wait until it is gone (kubectl get framework -w), then start again to register a new one",
    );
  }
}

export class TimeoutError extends KubeOffersError {
  override name = "TimeoutError";
  constructor(what: string, hint: string) {
    super("Timeout", what, hint);
  }
}

/** An API request failed for a reason the SDK does not retry, or kept failing until its retries ran out. */
export class ApiError extends KubeOffersError {
  override name = "ApiError";
  readonly status: number | undefined;
  constructor(action: string, err: unknown) {
    const status = statusCode(err);
    super("ApiError", `${action} failed: ${apiMessage(err)}`, hintFor(status, action), { cause: err });
    this.status = status;
  }
}

function hintFor(status: number | undefined, action: string): string {
  if (status === undefined)
    return "The API server could not be reached (the request was retried): is it up, and is the kubeconfig's server right?";
  if (status === 429 || status >= 500)
    return "The API server kept failing (the request was retried): see the message above";
  switch (status) {
    case 401:
      return "The credentials were refused: check the kubeconfig (or the ServiceAccount token in a Pod)";
    case 403:
      return `RBAC forbids it: a framework needs get/list/watch/create/patch/delete on frameworks, get/list/watch/patch on resourceoffers, get/list/watch/delete on pods and get/create/patch/delete on leases in its namespace (see examples/*/deploy.yaml)`;
    case 404:
      return /frameworks|resourceoffers/.test(action)
        ? `Are the kube-offers CRDs installed (kubectl get crd ${PLURAL.framework}.${GROUP}) and does the namespace exist?`
        : "The object or namespace does not exist";
    case 409:
      return "Other writers kept changing the object between read and write (the write was retried): try again";
    case 422:
      return "The API server rejected the object; the message above names the field";
    default:
      return "See the message above; the request was not retried";
  }
}

/** Errors worth retrying: no HTTP status (connection refused/reset, timeout), 429, 5xx. */
export function isTransient(err: unknown): boolean {
  const code = statusCode(err);
  if (code === undefined) return !(err instanceof KubeOffersError);
  return code === 429 || code >= 500;
}
