// What the operator keeps of a task Pod (in place: the informer's cached object). Task Pods are
// most of what it holds at scale, and most of a Pod is what no reader here looks at: the
// ServiceAccount token volume and its mounts, env, commands, probes, tolerations and every
// defaulted field, conditions and container statuses' image ids. Kept: every reader's fields —
// names, uid and version, times, labels, owners, kube-offers' annotations (resources, role, node
// state, task group, Mesos ids), the node, what each container takes (foreign-pods.ts's usageSpec,
// the one definition), and of the status what the task-state mapping reads (src/tasks/state.ts).
// Writes never send a cached Pod back (annotations are patched, deletes go by uid), so nothing
// dropped here can be lost from the API server's copy.
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { GROUP } from "../crds/contract.ts";
import { identityOf, usageSpec } from "./foreign-pods.ts";

/** kube-offers' own annotation keys: its group's domain and subdomains (sim., mesos., acked.mesos.). */
function ours(key: string): boolean {
  const slash = key.indexOf("/");
  const domain = slash < 0 ? "" : key.slice(0, slash);
  return domain === GROUP || domain.endsWith(`.${GROUP}`);
}

function containerStatus(s: V1ContainerStatus): V1ContainerStatus {
  const { waiting, terminated, running } = s.state ?? {};
  return {
    name: s.name,
    state: {
      ...(waiting ? { waiting: { reason: waiting.reason, message: waiting.message } } : {}),
      ...(running ? { running: { startedAt: running.startedAt } } : {}),
      ...(terminated
        ? {
            terminated: {
              exitCode: terminated.exitCode,
              reason: terminated.reason,
              message: terminated.message,
            },
          }
        : {}),
    },
  } as V1ContainerStatus;
}

export function trimTaskPod(p: V1Pod): void {
  // Rebuilt, not deleted from: an object that loses a property goes to V8's slow dictionary mode,
  // several times its size.
  const m = p.metadata;
  if (m) {
    const kept = Object.entries(m.annotations ?? {}).filter(([k]) => ours(k));
    p.metadata = {
      ...identityOf(m),
      ...(m.creationTimestamp !== undefined ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(m.deletionTimestamp !== undefined ? { deletionTimestamp: m.deletionTimestamp } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(kept.length ? { annotations: Object.fromEntries(kept) } : {}),
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
      ...(m.finalizers ? { finalizers: m.finalizers } : {}),
    };
  }
  if (p.spec) p.spec = usageSpec(p.spec);
  const st = p.status;
  if (st) {
    p.status = {
      ...(st.phase ? { phase: st.phase } : {}),
      ...(st.reason ? { reason: st.reason } : {}),
      ...(st.message ? { message: st.message } : {}),
      ...(st.startTime ? { startTime: st.startTime } : {}),
      ...(st.containerStatuses?.length
        ? { containerStatuses: st.containerStatuses.map(containerStatus) }
        : {}),
    };
  }
}
