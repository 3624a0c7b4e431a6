// A node's part of the pool as the operator counts it: the agent's contribution (agent/contribution.ts)
// less what the ordinary Pods on the node take (controller/foreign-pods.ts), with the warnings of
// both. The generated Pods are put on the node and given distinct names, as the API server would.
import {
  type Contribution,
  type ContributionConfig,
  computeContribution,
  type NodeLike,
} from "../../src/agent/contribution.ts";
import { ForeignUsage } from "../../src/controller/foreign-pods.ts";
import type { PodOnNode } from "../../src/resources/pod-usage.ts";
import { subtractClamped } from "../../src/resources/resources.ts";

export function poolContribution(
  node: NodeLike,
  pods: readonly PodOnNode[],
  cfg: ContributionConfig,
): Contribution {
  const out = computeContribution(node, cfg);
  const nodeName = node.metadata?.name || "node";
  const usage = ForeignUsage.of(
    pods.map((p, i) => ({
      ...p,
      metadata: {
        ...(p.metadata ?? {}),
        name: `${p.metadata?.name ?? "p"}-${i}`,
        namespace: p.metadata?.namespace ?? "default",
      },
      spec: { ...(p.spec ?? {}), nodeName },
    })),
  );
  const used = usage.usedOn(nodeName);
  return {
    ...out,
    resources: used ? subtractClamped(out.resources, used) : out.resources,
    warnings: [...out.warnings, ...[...usage.unreadable()].map((u) => u.message)],
  };
}
