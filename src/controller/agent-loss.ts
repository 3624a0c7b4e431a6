// When an agent whose Lease lapsed may be declared lost — pure: (what was declared before, the
// agents' Lease observations on the operator's clock, the clock) → which agents are lost now.
// A declared agent's outstanding offers are rescinded (AgentLost) and its tasks turn
// TASK_UNREACHABLE, which schedulers answer by killing and replacing them; so a slow control
// plane must not pass for dead nodes:
// - an agent is declared lost once lapsed for `settleMs`, so agents lapsing together count together;
// - at most `perMinute` agents are declared lost in any minute (Mesos --agent_removal_rate_limit);
// - when many agents lapse at once (`massFraction` of all agents, at least `massMinAgents`, within
//   `massWindowMs`), that is the control plane, not the nodes: nobody is declared lost until
//   renewals resume — no agent lapsed for `massWindowMs` while some renewal was seen meanwhile
//   (or none is lapsed any more). Kubernetes' node lifecycle controller stops evicting on a full
//   zone disruption for the same reason.
// An agent held back is not offered anew, but keeps its offers and its tasks stay as they are.
// A declared agent is lost until its Lease is renewed again. An agent without a Lease (deleted,
// never created) is lost at once: that is a statement, not a missed renewal.

export interface AgentLossConfig {
  /** Agents declared lost per minute at most (Mesos --agent_removal_rate_limit). */
  perMinute: number;
  /** This fraction of all agents lapsing within massWindowMs is a control-plane problem. */
  massFraction: number;
  /** ... but only when at least this many lapse (one node of a small pool is just one node). */
  massMinAgents: number;
  massWindowMs: number;
  /**
   * An agent is declared lost only once lapsed this long: agents that stop renewing together
   * lapse up to one renew interval apart (a quarter of the lease), and must be counted together.
   */
  settleMs: number;
}

export const DEFAULT_AGENT_LOSS: AgentLossConfig = {
  perMinute: 20,
  // A tenth of the pool within half a minute: more than a rack in a large cluster, less than
  // what a saturated API server makes lapse before the hold would begin (load test).
  massFraction: 0.1,
  massMinAgents: 5,
  massWindowMs: 30_000,
  settleMs: 5_000,
};

/** One agent's Lease, as the operator observed it (lease-clock.ts): null when it has none. */
export interface AgentLeaseObservation {
  name: string;
  lease: { renewedAt: number; lapsesAt: number } | null;
}

export interface AgentLossState {
  /** Agents declared lost, until their Lease is renewed again. */
  declared: ReadonlySet<string>;
  /** When agents were declared lost within the last minute (the rate limit). */
  declaredAt: readonly number[];
  /** The latest lapse seen (operator clock). */
  lastLapseAt: number;
  /** Since when declaring is held back as a control-plane problem, if it is. */
  holdingSince?: number;
}

export const INITIAL_AGENT_LOSS: AgentLossState = {
  declared: new Set(),
  declaredAt: [],
  lastLapseAt: Number.NEGATIVE_INFINITY,
};

export type AgentVerdict = "live" | "held" | "lost";

export interface AgentLossDecision {
  state: AgentLossState;
  verdict: ReadonlyMap<string, AgentVerdict>;
  /** Declared lost by this decision (rate-limited). */
  declared: string[];
  /** Declared before, renewing again. */
  recovered: string[];
  /** Lapsed but not declared: settling, or by the rate limit or the control-plane hold. */
  held: string[];
  /** The control-plane hold began or ended with this decision. */
  hold?: "started" | "ended";
  /** Agents lapsed within the window (what the hold is judged by), and the threshold. */
  recentLapses: number;
  threshold: number;
}

const MINUTE_MS = 60_000;

export function decideAgentLoss(
  prev: AgentLossState,
  agents: readonly AgentLeaseObservation[],
  now: number,
  cfg: AgentLossConfig,
): AgentLossDecision {
  const declared = new Set<string>();
  const recovered: string[] = [];
  const verdict = new Map<string, AgentVerdict>();
  const lapsed: { name: string; at: number }[] = [];
  let lastLapseAt = prev.lastLapseAt;
  let lastRenewalAt = Number.NEGATIVE_INFINITY;
  for (const a of agents) {
    if (!a.lease) {
      verdict.set(a.name, "lost");
      continue;
    }
    lastRenewalAt = Math.max(lastRenewalAt, a.lease.renewedAt);
    if (a.lease.lapsesAt > now) {
      verdict.set(a.name, "live");
      if (prev.declared.has(a.name)) recovered.push(a.name);
      continue;
    }
    lastLapseAt = Math.max(lastLapseAt, a.lease.lapsesAt);
    if (prev.declared.has(a.name)) {
      declared.add(a.name);
      verdict.set(a.name, "lost");
    } else lapsed.push({ name: a.name, at: a.lease.lapsesAt });
  }

  const threshold = Math.max(cfg.massMinAgents, Math.ceil(cfg.massFraction * agents.length));
  const recentLapses = lapsed.filter((l) => l.at > now - cfg.massWindowMs).length;
  let holdingSince = prev.holdingSince;
  let hold: AgentLossDecision["hold"];
  if (holdingSince === undefined && recentLapses >= threshold) {
    holdingSince = now;
    hold = "started";
  } else if (holdingSince !== undefined) {
    const quiet = now - lastLapseAt >= cfg.massWindowMs && now - lastRenewalAt < cfg.massWindowMs;
    if (lapsed.length === 0 || quiet) {
      holdingSince = undefined;
      hold = "ended";
    }
  }

  const declaredAt = prev.declaredAt.filter((t) => t > now - MINUTE_MS);
  const declaredNow: string[] = [];
  const held: string[] = [];
  // Oldest lapse first: the agent silent longest is the likeliest dead.
  lapsed.sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : 1));
  for (const l of lapsed) {
    if (holdingSince === undefined && now - l.at >= cfg.settleMs && declaredAt.length < cfg.perMinute) {
      declaredAt.push(now);
      declared.add(l.name);
      declaredNow.push(l.name);
      verdict.set(l.name, "lost");
    } else {
      held.push(l.name);
      verdict.set(l.name, "held");
    }
  }
  return {
    state: { declared, declaredAt, lastLapseAt, ...(holdingSince !== undefined ? { holdingSince } : {}) },
    verdict,
    declared: declaredNow,
    recovered,
    held,
    ...(hold ? { hold } : {}),
    recentLapses,
    threshold,
  };
}

/**
 * The decision kept between calls, re-taken at most every `everyMs` (every reader of node
 * health asks; the answer must not flicker within one reconcile). Listeners hear each decision
 * (logs, metrics, Events).
 */
export class AgentLossTracker {
  config: AgentLossConfig;
  private state: AgentLossState = INITIAL_AGENT_LOSS;
  private last: AgentLossDecision | undefined;
  private lastAt = Number.NEGATIVE_INFINITY;
  private readonly observe: () => AgentLeaseObservation[];
  private readonly everyMs: number;
  private readonly listeners: ((d: AgentLossDecision, now: number) => void)[] = [];

  constructor(
    observe: () => AgentLeaseObservation[],
    config: AgentLossConfig = DEFAULT_AGENT_LOSS,
    everyMs = 500,
  ) {
    this.observe = observe;
    this.config = config;
    this.everyMs = everyMs;
  }

  onDecision(fn: (d: AgentLossDecision, now: number) => void): void {
    this.listeners.push(fn);
  }

  decide(at: number): AgentLossDecision {
    // Readers pass the time they started at; a decision never goes back in time (a reader that
    // began before the last decision would otherwise see lapsed agents live and end a hold).
    const now = Math.max(at, this.lastAt);
    if (this.last && now - this.lastAt < this.everyMs) return this.last;
    const d = decideAgentLoss(this.state, this.observe(), now, this.config);
    this.state = d.state;
    this.last = d;
    this.lastAt = now;
    for (const fn of this.listeners) fn(d, now);
    return d;
  }

  /** The verdict on the agent of `node`; undefined when there is no Agent for it. */
  verdict(node: string, now: number): AgentVerdict | undefined {
    return this.decide(now).verdict.get(node);
  }
}
