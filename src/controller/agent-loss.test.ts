import type { V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { Agent } from "../crds/agent.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { AGENT_UNRESPONSIVE } from "./agent-book.ts";
import {
  type AgentLeaseObservation,
  type AgentLossConfig,
  type AgentLossState,
  AgentLossTracker,
  decideAgentLoss,
  INITIAL_AGENT_LOSS,
} from "./agent-loss.ts";
import type { Obj } from "./cache.ts";
import { planCycle } from "./cycle-plan.ts";
import { PodHolds } from "./pod-holds.ts";

const CFG: AgentLossConfig = {
  perMinute: 2,
  massFraction: 0.5,
  massMinAgents: 3,
  massWindowMs: 30_000,
  settleMs: 5000,
};
const T = 1_000_000;
const DURATION = 20_000;

/** An agent renewed `ago` ms before T (its Lease lapses DURATION later); null: no Lease. */
const at = (name: string, ago: number | null): AgentLeaseObservation => ({
  name,
  lease: ago === null ? null : { renewedAt: T - ago, lapsesAt: T - ago + DURATION },
});
const live = (n: number, prefix = "l") => Array.from({ length: n }, (_, i) => at(`${prefix}${i}`, 1000));

const state = (s: Partial<AgentLossState>): AgentLossState => ({ ...INITIAL_AGENT_LOSS, ...s });

describe("decideAgentLoss", () => {
  const cases: {
    name: string;
    prev?: AgentLossState;
    agents: AgentLeaseObservation[];
    lost: string[];
    held?: string[];
    hold?: "started" | "ended";
  }[] = [
    { name: "live agents are live", agents: live(4), lost: [] },
    {
      name: "an agent lapsed for less than settleMs is held, not yet declared",
      agents: [...live(9), at("new", 24_000), at("old", 25_000)],
      lost: ["old"],
      held: ["new"],
    },
    {
      name: "one lapsed agent of many is declared lost at once",
      agents: [...live(9), at("dead", 25_000)],
      lost: ["dead"],
    },
    {
      name: "an agent without a Lease is lost at once, outside the rate limit",
      prev: state({ declaredAt: [T - 1000, T - 2000] }),
      agents: [...live(9), at("nolease", null)],
      lost: ["nolease"],
    },
    {
      name: "the rate limit declares the longest-silent first and holds the rest",
      agents: [...live(20), at("d1", 23_000), at("d2", 40_000), at("d3", 30_000)],
      lost: ["d2", "d3"],
      held: ["d1"],
    },
    {
      name: "declarations older than a minute no longer count against the limit",
      prev: state({ declaredAt: [T - 61_000, T - 62_000, T - 10_000] }),
      agents: [...live(20), at("d1", 26_000), at("d2", 27_000)],
      lost: ["d2"],
      held: ["d1"],
    },
    {
      name: "many agents lapsing at once are a control-plane problem: none is declared",
      agents: [...live(3), at("a", 21_000), at("b", 22_000), at("c", 23_000)],
      lost: [],
      held: ["c", "b", "a"],
      hold: "started",
    },
    {
      name: "a hold with no lapse for the window and renewals seen meanwhile ends; the rest go at the rate limit",
      prev: state({ holdingSince: T - 60_000, lastLapseAt: T - 40_000 }),
      agents: [...live(10), at("a", 60_000), at("b", 61_000), at("c", 62_000)],
      lost: ["c", "b"],
      held: ["a"],
      hold: "ended",
    },
    {
      name: "a hold lasts while nobody renews (the API server is down)",
      prev: state({ holdingSince: T - 60_000, lastLapseAt: T - 40_000 }),
      agents: [at("a", 60_000), at("b", 61_000), at("c", 62_000)],
      lost: [],
      held: ["c", "b", "a"],
    },
    {
      name: "a hold lasts while agents keep lapsing",
      prev: state({ holdingSince: T - 60_000, lastLapseAt: T - 40_000 }),
      agents: [...live(3), at("a", 21_000), at("b", 61_000)],
      lost: [],
      held: ["b", "a"],
    },
    {
      name: "a hold ends when no agent is lapsed any more",
      prev: state({ holdingSince: T - 5000, lastLapseAt: T - 2000 }),
      agents: live(6),
      lost: [],
      hold: "ended",
    },
    {
      name: "a declared agent stays lost while lapsed, and does not count towards a hold",
      prev: state({ declared: new Set(["x", "y", "z"]) }),
      agents: [...live(3), at("x", 21_000), at("y", 22_000), at("z", 23_000)],
      lost: ["x", "y", "z"],
    },
    {
      name: "a small pool losing most of its agents is below the minimum: rate-limited only",
      agents: [at("a", 1000), at("b", 30_000), at("c", 32_000)],
      lost: ["b", "c"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideAgentLoss(c.prev ?? INITIAL_AGENT_LOSS, c.agents, T, CFG);
      const lost = [...d.verdict].filter(([, v]) => v === "lost").map(([n]) => n);
      expect(lost.sort()).toEqual([...c.lost].sort());
      expect(d.held).toEqual(c.held ?? []);
      for (const n of d.held) expect(d.verdict.get(n)).toBe("held");
      expect(d.hold).toBe(c.hold);
    });
  }

  it("a declared agent that renews is live again and reported recovered", () => {
    const d = decideAgentLoss(state({ declared: new Set(["x"]) }), [at("x", 100), ...live(3)], T, CFG);
    expect(d.verdict.get("x")).toBe("live");
    expect(d.recovered).toEqual(["x"]);
    expect(d.state.declared.has("x")).toBe(false);
  });

  it("a saturated control plane loses no agent over time, and the hold ends when renewals resume", () => {
    // 10 agents renew every 5 s until the API server stalls at t=0 for 90 s; then all renew again.
    const cfg = { ...CFG, massFraction: 0.3 };
    let s = INITIAL_AGENT_LOSS;
    const lost = new Set<string>();
    const holds: string[] = [];
    for (let t = 0; t <= 120_000; t += 500) {
      const renewedAt = t < 90_000 ? -1000 : t - (t % 5000);
      const agents = Array.from({ length: 10 }, (_, i) => ({
        name: `a${i}`,
        lease: { renewedAt: renewedAt - i * 100, lapsesAt: renewedAt - i * 100 + DURATION },
      }));
      const d = decideAgentLoss(s, agents, t, cfg);
      s = d.state;
      for (const n of d.declared) lost.add(n);
      if (d.hold) holds.push(`${d.hold}@${t}`);
    }
    expect([...lost]).toEqual([]);
    expect(holds).toEqual(["started@18500", "ended@90000"]);
  });
});

describe("AgentLossTracker", () => {
  it("re-decides at most every everyMs and tells each decision to its listeners", () => {
    let agents = [at("a", 1000)];
    const t = new AgentLossTracker(() => agents, CFG, 500);
    const heard: number[] = [];
    t.onDecision((_, now) => heard.push(now));
    expect(t.verdict("a", T)).toBe("live");
    agents = [at("a", 30_000)];
    expect(t.verdict("a", T + 100)).toBe("live"); // the decision of T still stands
    expect(t.verdict("a", T + 500)).toBe("lost");
    expect(t.verdict("nobody", T + 500)).toBeUndefined();
    expect(heard).toEqual([T, T + 500]);
  });

  it("never decides back in time: a reader that began earlier gets the latest decision", () => {
    let agents = [at("a", 30_000)];
    const t = new AgentLossTracker(() => agents, CFG, 500);
    expect(t.verdict("a", T)).toBe("lost");
    agents = [at("a", 30_000)];
    expect(t.verdict("a", T - 20_000)).toBe("lost"); // at T - 20 s its Lease was live
  });
});

describe("planCycle with agent loss", () => {
  const agent = {
    apiVersion: "kubeoffers.io/v1alpha1",
    kind: "Agent",
    metadata: { name: "n1", resourceVersion: "1" },
    spec: {},
    status: { resources: { cpu: "4" }, attributes: {}, available: true },
  } as Obj<Agent>;
  const lapsed = { spec: { renewTime: new Date(T - 60_000), leaseDurationSeconds: 15 } } as V1Lease;
  const fw = {
    metadata: { name: "a", namespace: "ns", uid: "u", resourceVersion: "1" },
    spec: { roles: ["*"] },
  } as Obj<Framework>;
  const offer = {
    metadata: { name: "o1", namespace: "ns", resourceVersion: "1", creationTimestamp: new Date(T - 1000) },
    spec: { framework: "a", role: "*", agent: "n1", resources: { cpu: "1" } },
    status: { phase: "Offered" },
  } as unknown as Obj<ResourceOffer>;
  const plan = (verdict: "held" | "lost") =>
    planCycle(
      {
        agents: [agent],
        agentLease: () => lapsed,
        agentVerdict: () => verdict,
        frameworks: [fw],
        lease: () => undefined,
        offers: [offer],
        podHolds: PodHolds.of([]),
        roles: [],
        assumed: [],
        busyOffers: new Set(),
        filters: [],
        config: { fairShareExcludedResources: [], seed: 1 },
        cycle: 0,
      },
      T,
    );

  it("an agent held back keeps its offer and gets no new one", () => {
    const p = plan("held");
    expect(p.rescind).toEqual([]);
    expect(p.create).toEqual([]);
    expect(AGENT_UNRESPONSIVE).toBe("AgentUnresponsive");
  });

  it("an agent declared lost has its offer rescinded (AgentLost)", () => {
    expect(plan("lost").rescind.map((r) => r.reason)).toEqual(["AgentLost"]);
  });
});
