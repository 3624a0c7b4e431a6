// The local harness applies the same FlowSchemas as the chart (src/crds/flowcontrol.ts: one
// definition), with the chart's default names for a release called "kube-offers" in the
// operator's namespace, so a harness run under load prioritises heartbeats as a cluster does.
import { FlowcontrolApiserverV1Api, type KubeConfig, type V1FlowSchema } from "@kubernetes/client-node";
import { DEFAULT_LEASE_NAMESPACE } from "../crds/contract.ts";
import { type FlowControlNames, flowSchemas } from "../crds/flowcontrol.ts";
import { applyPatch } from "../kube/patch.ts";

/** The chart's names for release "kube-offers" installed in the operator's namespace. */
export const HARNESS_FLOW_NAMES: FlowControlNames = {
  prefix: "kube-offers",
  namespace: DEFAULT_LEASE_NAMESPACE,
  agentServiceAccount: "kube-offers-agent",
  controllerServiceAccount: "kube-offers-controller",
  leaseNamespace: DEFAULT_LEASE_NAMESPACE,
};

/** Server-side applies the FlowSchemas; returns them as the API server stored them. */
export async function installFlowControl(
  kc: KubeConfig,
  names: FlowControlNames = HARNESS_FLOW_NAMES,
): Promise<V1FlowSchema[]> {
  const api = kc.makeApiClient(FlowcontrolApiserverV1Api);
  const out: V1FlowSchema[] = [];
  for (const fs of flowSchemas(names)) {
    out.push(
      await api.patchFlowSchema(
        { name: fs.metadata.name, body: fs, fieldManager: "kube-offers-installer", force: true },
        applyPatch,
      ),
    );
  }
  return out;
}
