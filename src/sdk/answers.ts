// Answering offers: an answer is checked against the offer and the known tasks before anything
// is written, then written into spec.response conditionally on the resourceVersion read (an
// answer and a rescind cannot both win). Also waiting for the operator's verdict (outcome).

import { PLURAL } from "../crds/contract.ts";
import {
  type OfferResponse,
  OfferResponseSchema,
  offerPhase,
  type ResourceOffer,
  responseTaskIds,
  type TaskInfoInput,
} from "../crds/offer.ts";
import { formatErrors, toFieldErrors } from "../crds/validate.ts";
import { apiMessage, isConflict, isNotFound, statusCode } from "../kube/errors.ts";
import { mergePatch } from "../kube/patch.ts";
import type { ResourceMap } from "../resources/types.ts";
import type { ClientContext } from "./context.ts";
import {
  ApiError,
  InvalidLaunchError,
  isTransient,
  KubeOffersError,
  NotStartedError,
  OfferAlreadyAnsweredError,
  OfferNotUsableError,
  TimeoutError,
} from "./errors.ts";
import { checkTasksFit } from "./resources.ts";
import { retry } from "./retry.ts";
import { outcomeOf } from "./tracker.ts";
import type { Offer, OfferOutcome } from "./types.ts";

export type Operation =
  | { launch: { tasks: TaskInfoInput[] } }
  | { launchGroup: { tasks: TaskInfoInput[] } }
  /** Mesos RESERVE / UNRESERVE: passed to the operator as they are (it may refuse them: offer Invalid). */
  | { reserve: NonNullable<OfferResponse["operations"]>[number]["reserve"] }
  | { unreserve: NonNullable<OfferResponse["operations"]>[number]["unreserve"] };

export interface AnswerResult {
  offer: string;
  /** Task ids the answer launches (empty for a decline). */
  tasks: string[];
}

interface Waiter {
  resolve: (o: OfferOutcome) => void;
  reject: (err: Error) => void;
}

/** How many times in all an answer is written while it keeps conflicting. */
const ANSWER_ATTEMPTS = 21;

const isWriteOnce = (err: unknown) => statusCode(err) === 422 && /write-once/.test(apiMessage(err));

export function acceptResponse(operations: Operation[], filters?: { refuseSeconds?: number }): OfferResponse {
  return {
    action: "Accept",
    operations: operations as OfferResponse["operations"],
    ...(filters?.refuseSeconds !== undefined ? { filters: { refuseSeconds: filters.refuseSeconds } } : {}),
  };
}

export function declineResponse(refuseSeconds?: number): OfferResponse {
  return { action: "Decline", ...(refuseSeconds !== undefined ? { filters: { refuseSeconds } } : {}) };
}

export class Answers {
  private readonly ctx: ClientContext;
  /** Offers an answer from this process is being written to. */
  private readonly inflight = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(ctx: ClientContext) {
    this.ctx = ctx;
  }

  /** Outstanding offers that no answer from this process is being written to. */
  outstanding(): Offer[] {
    return this.ctx.offers.outstanding().filter((o) => !this.inflight.has(o.name));
  }

  /**
   * Writes the answer. A conflict (the offer changed since it was read) reads it again; so does a
   * transient failure, after which an answer found to be ours counts as written.
   */
  async answer(offer: Offer | string, response: OfferResponse): Promise<AnswerResult> {
    const { api, offers, tasks, log } = this.ctx;
    const name = typeof offer === "string" ? offer : offer.name;
    const verb = response.action === "Accept" ? "accept" : "decline";
    const ids = responseTaskIds(response);
    const ident = api.custom(PLURAL.resourceOffer);
    if (this.inflight.has(name))
      throw new OfferAlreadyAnsweredError(name, "an answer from this process is being written");
    this.inflight.add(name);
    let cur: ResourceOffer | undefined;
    let sent = false;
    // The first attempt answers the offer as the watch last saw it, in one round trip: a copy
    // that is out of date costs a conflict (the write is conditional), and the retry reads it.
    const seen = offers.seen(name) ?? (typeof offer === "string" ? undefined : offer.object);
    try {
      await retry(
        async (attempt) => {
          cur = undefined; // while undefined, a failure is the read's
          const cached = attempt === 0 ? seen : undefined;
          cur =
            cached ??
            ((await api.co.getNamespacedCustomObject({ ...ident, name }).catch((err: unknown) => {
              if (isNotFound(err)) throw new OfferNotUsableError(name, "Gone");
              throw err;
            })) as ResourceOffer);
          if (this.check(cur, response, sent)) return;
          sent = true;
          // resourceVersion makes the write conditional: a rescind that lands first wins, and
          // we find out instead of answering an offer that is no longer ours.
          await api.co.patchNamespacedCustomObject(
            {
              ...ident,
              name,
              body: { metadata: { resourceVersion: cur.metadata.resourceVersion }, spec: { response } },
            },
            mergePatch,
          );
        },
        api.policy(
          (err, attempt) =>
            isTransient(err) || ((isConflict(err) || isWriteOnce(err)) && attempt + 1 < ANSWER_ATTEMPTS),
        ),
      );
    } catch (err) {
      if (err instanceof KubeOffersError) throw err;
      if (!cur) throw new ApiError(`get ResourceOffer ${name}`, err);
      if (statusCode(err) === 422)
        throw new InvalidLaunchError(
          `the API server rejected the answer to offer ${name}: ${apiMessage(err)}`,
        );
      throw new ApiError(`${verb} offer ${name}`, err);
    } finally {
      this.inflight.delete(name);
    }
    offers.markAnswered(name);
    if (ids.length && cur) tasks.launching(name, cur.spec.agent, cur.spec.role, response);
    log("info", verb === "accept" ? "accepted offer" : "declined offer", { offer: name, tasks: ids });
    return { offer: name, tasks: ids };
  }

  /**
   * Whether the offer (as just read) may take this answer: throws if not; true when it already
   * carries it, written by an earlier attempt of this call (`sent`) whose response was lost.
   */
  private check(offer: ResourceOffer, response: OfferResponse, sent: boolean): boolean {
    const name = offer.metadata.name ?? "";
    const framework = this.ctx.name;
    if (offer.spec.framework !== framework)
      throw new InvalidLaunchError(
        `offer ${name} is for framework ${offer.spec.framework}, not ${framework}`,
      );
    const existing = offer.spec.response;
    if (existing) {
      const same =
        existing.action === response.action &&
        JSON.stringify(responseTaskIds(existing)) === JSON.stringify(responseTaskIds(response));
      if (same && sent) return true;
      throw new OfferAlreadyAnsweredError(
        name,
        existing.action === "Accept"
          ? `Accept launching ${responseTaskIds(existing).join(", ") || "nothing"}`
          : "Decline",
      );
    }
    const phase = offerPhase(offer);
    if (phase !== "Offered")
      throw new OfferNotUsableError(name, phase, offer.status?.reason, offer.status?.message);
    if (offer.spec.expiresAt && Date.parse(offer.spec.expiresAt) <= Date.now())
      throw new OfferNotUsableError(name, "Expired", "OfferTimeout", `expired at ${offer.spec.expiresAt}`);
    this.validate(offer, response);
    return false;
  }

  private validate(offer: ResourceOffer, response: OfferResponse): void {
    const name = offer.metadata.name ?? "";
    const parsed = OfferResponseSchema.safeParse(response);
    if (!parsed.success) {
      const errs = toFieldErrors(parsed.error).map((e) => ({
        ...e,
        path: e.path ? `spec.response.${e.path}` : "spec.response",
      }));
      throw new InvalidLaunchError(`invalid answer to offer ${name}: ${formatErrors(errs)}`);
    }
    const tasks = (response.operations ?? []).flatMap((op) => [
      ...(op.launch?.tasks ?? []),
      ...(op.launchGroup?.tasks ?? []),
    ]);
    checkTasksFit(
      name,
      offer.spec.resources as ResourceMap,
      tasks.map((t) => ({ id: t.id, resources: t.resources as ResourceMap })),
    );
    for (const t of tasks) {
      const known = this.ctx.tasks.get(t.id);
      if (known && (known.source === "pod" || known.source === "launching") && known.offer !== name)
        throw new InvalidLaunchError(
          `task id ${t.id} is already in use (${known.state}${known.pod ? `, Pod ${known.pod}` : ""}); task ids are unique within a framework, so give a new attempt a new id (e.g. add an attempt number)`,
        );
    }
  }

  /** The operator's verdict on an answered offer; `cached` is the offer as the watch last saw it. */
  outcome(name: string, timeoutMs: number, cached: ResourceOffer | undefined): Promise<OfferOutcome> {
    if (cached && offerPhase(cached) !== "Offered") return Promise.resolve(outcomeOf(cached));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.set(
          name,
          (this.waiters.get(name) ?? []).filter((x) => x !== w),
        );
        reject(
          new TimeoutError(
            `offer ${name} was not processed within ${timeoutMs} ms`,
            `Is the kube-offers operator running, and does it manage this Framework (its pool label)? Look at kubectl get resourceoffer ${name} -o yaml`,
          ),
        );
      }, timeoutMs);
      const ws = this.waiters.get(name) ?? [];
      ws.push(w);
      this.waiters.set(name, ws);
    });
  }

  /** The watch saw the offer: once it is no longer Offered, whoever waits for its outcome gets it. */
  settle(o: ResourceOffer): void {
    if (offerPhase(o) === "Offered") return;
    const name = o.metadata.name ?? "";
    const ws = this.waiters.get(name);
    if (!ws) return;
    this.waiters.delete(name);
    const outcome = outcomeOf(o);
    for (const w of ws) w.resolve(outcome);
  }

  /** The client stopped: nobody gets an outcome any more. */
  stop(): void {
    const waiting = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const w of waiting) w.reject(new NotStartedError("outcome (the client was stopped while waiting)"));
  }
}
