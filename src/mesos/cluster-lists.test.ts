import { describe, expect, it } from "vitest";
import { GROUP, LABEL_FRAMEWORK, PLURAL, VERSION } from "../crds/contract.ts";
import { clusterLists } from "./cluster-lists.ts";
import { unreachableKubeConfig } from "./kubeconfig.test-support.ts";

describe("clusterLists: what the endpoints read and the operator stream watches", () => {
  it("Agents and Frameworks by the pool's selectors, task Pods by their framework label, each namespace once", () => {
    const lists = clusterLists({
      kubeConfig: unreachableKubeConfig(),
      namespaces: ["a", "b", "a"],
      frameworkSelector: "pool=p",
      agentSelector: "pool=p",
    });
    const shape = (l: { name: string; path: string; labelSelector?: string }) => [
      l.name,
      l.path,
      l.labelSelector,
    ];
    const api = `/apis/${GROUP}/${VERSION}`;
    expect(shape(lists.agents)).toEqual([PLURAL.agent, `${api}/${PLURAL.agent}`, "pool=p"]);
    expect(shape(lists.roles)).toEqual([PLURAL.resourceRole, `${api}/${PLURAL.resourceRole}`, undefined]);
    expect(lists.namespaces.map((n) => n.namespace)).toEqual(["a", "b"]);
    const [a] = lists.namespaces;
    expect(a && [shape(a.frameworks), shape(a.offers), shape(a.pods)]).toEqual([
      [`${PLURAL.framework}-a`, `${api}/namespaces/a/${PLURAL.framework}`, "pool=p"],
      [`${PLURAL.resourceOffer}-a`, `${api}/namespaces/a/${PLURAL.resourceOffer}`, undefined],
      ["pods-a", "/api/v1/namespaces/a/pods", LABEL_FRAMEWORK],
    ]);
  });

  it("no selectors: every Agent and Framework", () => {
    const lists = clusterLists({ kubeConfig: unreachableKubeConfig(), namespaces: ["a"] });
    expect(lists.agents.labelSelector).toBeUndefined();
    expect(lists.namespaces[0]?.frameworks.labelSelector).toBeUndefined();
  });
});
