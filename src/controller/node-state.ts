// The node-state annotation on task Pods: "lost" when the Pod's node is gone, "unreachable"
// when it is not Ready or its agent was declared lost, absent otherwise — so the task state
// mapping (src/tasks/state.ts) and everyone reading the Pod see TASK_LOST / TASK_UNREACHABLE.
// Level-based: each live task Pod's annotation is set to what its node's health says now.
// Also what the operator tells about agent loss (agent-loss.ts): who was declared lost, who is
// held back and why, as logs, metrics and an Event when a control-plane hold begins and ends.
import { NODE_STATE_ANNOTATION } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { AgentLossDecision } from "./agent-loss.ts";
import type { Obj } from "./cache.ts";
import { type ControllerDeps, type FrameworkReconciler, RECHECK_MS } from "./deps.ts";
import { isTerminalPod } from "./views.ts";

export function nodeStateReconciler(d: ControllerDeps): FrameworkReconciler {
  d.cache.agentLoss.onDecision((decision) => reportAgentLoss(d, decision));
  return {
    async reconcile(fw: Obj<Framework>, now: number): Promise<number> {
      // Readers ask only about lapsed agents: also decide when none is, so a hold's end is told.
      d.cache.agentLoss.decide(now);
      const ns = fw.metadata.namespace ?? "";
      for (const p of d.cache.podsOf(ns, fw.metadata.name ?? "")) {
        if (isTerminalPod(p)) continue;
        const h = d.cache.nodeHealth(p.spec?.nodeName ?? "", d.config.agentLeaseNamespace, now);
        const want = !h.exists ? "lost" : !h.ready ? "unreachable" : null;
        const have = p.metadata?.annotations?.[NODE_STATE_ANNOTATION] ?? null;
        if (want !== have)
          await d.writer.annotatePod(ns, p.metadata?.name ?? "", NODE_STATE_ANNOTATION, want);
      }
      return RECHECK_MS;
    },
  };
}

/** Held-back agents named in a log line at most. */
const NAMED = 20;

function reportAgentLoss(d: ControllerDeps, x: AgentLossDecision): void {
  const holding = x.state.holdingSince !== undefined;
  d.metrics.agentLossHold.set(holding ? 1 : 0);
  d.metrics.agentsHeld.set({ reason: "control-plane" }, holding ? x.held.length : 0);
  d.metrics.agentsHeld.set({ reason: "rate" }, holding ? 0 : x.held.length);
  if (x.declared.length) {
    d.metrics.agentsDeclaredLost.inc(x.declared.length);
    d.log.warn({ agents: x.declared, held: x.held.length }, "agents declared lost: their Lease lapsed");
  }
  if (x.recovered.length) d.log.info({ agents: x.recovered }, "agents declared lost renew their Lease again");
  if (!x.hold) return;
  const cfg = d.config.agentLoss;
  const note =
    x.hold === "started"
      ? `${x.recentLapses} agent Leases lapsed within ${cfg.massWindowMs / 1000} s (threshold ${x.threshold}): ` +
        "taken for a control-plane problem, no agent is declared lost until renewals resume"
      : `agent Lease renewals resumed; ${x.held.length} agent(s) still lapsed are declared lost at ` +
        `${cfg.perMinute} per minute at most`;
  const log = {
    hold: x.hold,
    held: x.held.length,
    agents: x.held.slice(0, NAMED),
    recentLapses: x.recentLapses,
  };
  if (x.hold === "started") d.log.warn(log, "agent loss held back: many agent Leases lapsed at once");
  else d.log.info(log, "agent loss hold ended");
  const ns = d.config.agentLeaseNamespace;
  void d.writer.event(
    { kind: "Namespace", apiVersion: "v1", namespace: ns, name: ns },
    x.hold === "started" ? "Warning" : "Normal",
    x.hold === "started" ? "AgentLossHeld" : "AgentLossResumed",
    note,
  );
}
