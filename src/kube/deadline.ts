// Deadlines for API calls. client-node sends requests with no timeout at all: a connection the
// API server (or a proxy, or a half-dead network) accepts but never answers hangs the caller
// forever. Clients made here abort every request — response headers and body alike — after a
// deadline, and reject with a RequestTimeoutError that says which request it was.
import {
  type Configuration,
  type HttpLibrary,
  type KubeConfig,
  Observable,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { DEFAULT_API_TIMEOUT_MS } from "../crds/contract.ts";
import { connectionsOf } from "./connections.ts";

/** A request that got no (complete) answer within its deadline. No HTTP status: a transient failure. */
export class RequestTimeoutError extends Error {
  override readonly name = "RequestTimeoutError";
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what}: no answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

export function isRequestTimeout(err: unknown): err is RequestTimeoutError {
  return err instanceof RequestTimeoutError;
}

/**
 * Runs fn with a signal that aborts after `ms`, and rejects with a RequestTimeoutError then even
 * if fn ignores the signal (e.g. a credential plugin that hangs before the request is sent).
 */
export function withDeadline<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new RequestTimeoutError(what, ms);
      ctl.abort(err);
      reject(err);
    }, ms);
  });
  // fn runs inside a promise: even a synchronous throw settles the race and clears the timer
  // (a timer left running would reject `expired` later with no one listening).
  const work = new Promise<T>((resolve) => resolve(fn(ctl.signal)));
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** An HttpLibrary that gives every request (and the reading of its body) a deadline. */
export class DeadlineHttpLibrary implements HttpLibrary {
  private readonly inner: HttpLibrary;
  readonly timeoutMs: number;

  private readonly onTimeout: (() => void) | undefined;

  constructor(inner: HttpLibrary, timeoutMs: number, onTimeout?: () => void) {
    this.inner = inner;
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
  }

  send(request: RequestContext): Observable<ResponseContext> {
    const url = new URL(request.getUrl());
    const what = `${request.getHttpMethod()} ${url.pathname}`;
    const ms = this.timeoutMs;
    const outer = request.getSignal();
    // One deadline for the whole exchange, the body included: it is read here, within it.
    const answer = withDeadline(what, ms, async (signal) => {
      request.setSignal(outer ? AbortSignal.any([outer, signal]) : signal);
      const res = await this.inner.send(request).toPromise();
      const text = await res.body.text();
      res.body = {
        text: async () => text,
        binary: async () => Buffer.from(text),
        stream: () => null,
      };
      return res;
    });
    answer.catch((err: unknown) => {
      if (err instanceof RequestTimeoutError) this.onTimeout?.();
    });
    return new Observable(answer);
  }
}

/**
 * kc.makeApiClient(Api), with every call bounded by `timeoutMs`. KubeConfig builds the
 * configuration (server, credentials, TLS, user agent); only its HTTP library is wrapped.
 */
export function makeApiClient<T>(
  kc: KubeConfig,
  api: new (config: Configuration) => T,
  timeoutMs: number = DEFAULT_API_TIMEOUT_MS,
): T {
  // makeApiClient hands its configuration to the constructor it is given: take it from there.
  const Bounded = function (this: unknown, config: Configuration) {
    const timedOut = () => connectionsOf(kc)?.requestTimedOut();
    return new api({ ...config, httpApi: new DeadlineHttpLibrary(config.httpApi, timeoutMs, timedOut) });
  } as unknown as new (
    config: Configuration,
  ) => T;
  return kc.makeApiClient(Bounded as never) as T;
}
