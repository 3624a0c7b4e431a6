import { afterEach, describe, expect, it, vi } from "vitest";
import type { FrameworkClient, Offer } from "../sdk/index.ts";
import { OfferAnswers } from "./offer-answers.ts";
import type { MesosEvent } from "./protocol.ts";
import type { FrameworkContext, FrameworkTasks } from "./task-calls.ts";

function offer(name: string): Offer {
  return {
    name,
    namespace: "ns",
    agent: "node-1",
    role: "*",
    resources: { cpu: "1" },
    attributes: {},
    object: { spec: {} } as Offer["object"],
  };
}

/** A framework with outstanding `outstanding` offers, recording what it sends. */
function framework(outstanding: Offer[]) {
  const sent: MesosEvent[] = [];
  const client = { offers: () => outstanding } as unknown as FrameworkClient;
  const fw: FrameworkContext = {
    id: "fw-1",
    key: "ns/fw-1",
    namespace: "ns",
    capabilities: { partitionAware: false, taskKillingState: false },
    resourceFormat: { multiRole: false, refinement: false },
    client,
    conn: { send: (e) => sent.push(e) },
    mustClient: () => client,
    send: (e) => void sent.push(e),
    agentFailed: () => {},
  };
  const answers = new OfferAnswers(fw, {} as FrameworkTasks, {
    defaultImage: "busybox",
    retryMs: 1000,
    log: () => {},
  });
  const told = () =>
    sent.map((e) =>
      e.type === "OFFERS"
        ? `OFFERS ${(e.offers as { offers: { id: { value: string } }[] }).offers.map((o) => o.id.value).join(",")}`
        : e.type === "RESCIND"
          ? `RESCIND ${(e.rescind as { offer_id: { value: string } }).offer_id.value}`
          : e.type,
    );
  return { answers, told };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("OfferAnswers: offers out as Mesos sends them", () => {
  it("offers that arrive together go out in one OFFERS event; one rescinded meanwhile does not", () => {
    vi.useFakeTimers();
    const [a, b, c] = [offer("a"), offer("b"), offer("c")];
    const { answers, told } = framework([a, b]);
    answers.offered(a);
    answers.offered(b);
    answers.offered(c);
    answers.gone("b");
    expect(told()).toEqual(["RESCIND b"]);
    vi.advanceTimersByTime(10);
    // c is no longer outstanding by the time the batch goes: it is left out too.
    expect(told()).toEqual(["RESCIND b", "OFFERS a"]);
    answers.dispose();
  });

  it("a new subscription gets every outstanding offer once, the batch waiting to go out among them", () => {
    vi.useFakeTimers();
    const [a, b] = [offer("a"), offer("b")];
    const { answers, told } = framework([a, b]);
    answers.offered(b);
    answers.subscribed();
    vi.advanceTimersByTime(100);
    expect(told()).toEqual(["OFFERS a,b"]);
    answers.dispose();
  });

  it("the stream ended: a batch waiting to go out is dropped", () => {
    vi.useFakeTimers();
    const a = offer("a");
    const { answers, told } = framework([a]);
    answers.offered(a);
    answers.clearBatch();
    vi.advanceTimersByTime(100);
    expect(told()).toEqual([]);
    answers.dispose();
  });
});
