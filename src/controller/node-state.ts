// The node-state annotation on task Pods: "lost" when the Pod's node is gone, "unreachable"
// when it is not Ready or its agent stopped renewing, absent otherwise — so the task state
// mapping (src/tasks/state.ts) and everyone reading the Pod see TASK_LOST / TASK_UNREACHABLE.
// Level-based: each live task Pod's annotation is set to what its node's health says now.
import { NODE_STATE_ANNOTATION } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { Obj } from "./cache.ts";
import { type ControllerDeps, type FrameworkReconciler, RECHECK_MS } from "./deps.ts";
import { isTerminalPod } from "./views.ts";

export function nodeStateReconciler(d: ControllerDeps): FrameworkReconciler {
  return {
    async reconcile(fw: Obj<Framework>, now: number): Promise<number> {
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
