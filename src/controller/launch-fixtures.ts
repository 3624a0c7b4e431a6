// Answers built small for the launch plan's tests: an offer of cpu 4, memory 8Gi and ports
// 31000-31009 on node-1, accepted with the given operations, and tasks of one busybox container.
import { API_VERSION } from "../crds/contract.ts";
import type { ResourceOffer } from "../crds/offer.ts";

export const container = { name: "main", image: "busybox" };

export function offer(operations: unknown[], resources: Record<string, unknown> = {}): ResourceOffer {
  return {
    apiVersion: API_VERSION,
    kind: "ResourceOffer",
    metadata: { name: "o1", namespace: "team-a" },
    spec: {
      framework: "fw",
      role: "eng/batch",
      agent: "node-1",
      resources: { cpu: "4", memory: "8Gi", ports: [{ begin: 31000, end: 31009 }], ...resources },
      attributes: {},
      response: { action: "Accept", operations },
    },
  } as unknown as ResourceOffer;
}
export const ctx = { frameworkUid: "uid-1", existingPods: new Map<string, string>() };
export const t = (id: string, resources: Record<string, unknown>) => ({
  id,
  resources,
  template: { spec: { containers: [container] } },
});
