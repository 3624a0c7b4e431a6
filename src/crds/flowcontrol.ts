// API Priority and Fairness for kube-offers' heartbeats: the agents' Lease renewals get the
// priority level kube-apiserver gives kubelets' node Leases (node-high, the bootstrap
// FlowSchema system-node-high), and the controller's leader-election Lease the level of
// kube-controller-manager's (leader-election, system-leader-election). A launch storm that
// saturates the API server then queues Pod writes, not the renewals by which the operator tells
// live nodes from dead ones. One definition: the local harness applies these objects
// (src/local/flowcontrol.ts) and the chart's templates/flowschema.yaml is rendered from them
// (`npm run gen:flowschema`; flowcontrol.test.ts fails when they drift).
import { stringify } from "yaml";

export const FLOWCONTROL_API_VERSION = "flowcontrol.apiserver.k8s.io/v1";
/** The bootstrap priority levels kube-apiserver keeps (suggested configuration). */
export const NODE_HIGH_PRIORITY_LEVEL = "node-high";
export const LEADER_ELECTION_PRIORITY_LEVEL = "leader-election";
/**
 * Matching precedence: beside the bootstrap schemas they mirror (system-node-high 400,
 * system-leader-election 100, workload-leader-election 200), and before service-accounts
 * (9000), which would otherwise put these requests in workload-low with everything else.
 */
export const AGENT_LEASES_PRECEDENCE = 450;
export const LEADER_ELECTION_PRECEDENCE = 150;

export interface FlowControlNames {
  /** Prefix of the FlowSchemas' names (cluster-scoped): the release's full name. */
  prefix: string;
  /** The agents' and the controller's ServiceAccounts live here. */
  namespace: string;
  agentServiceAccount: string;
  controllerServiceAccount: string;
  /** Where the agents' Leases and the leader-election Lease are. */
  leaseNamespace: string;
  labels?: Record<string, string>;
}

export interface FlowSchemaObject {
  apiVersion: string;
  kind: "FlowSchema";
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    priorityLevelConfiguration: { name: string };
    matchingPrecedence: number;
    distinguisherMethod: { type: "ByUser" };
    rules: {
      subjects: { kind: "ServiceAccount"; serviceAccount: { namespace: string; name: string } }[];
      resourceRules: {
        verbs: string[];
        apiGroups: string[];
        resources: string[];
        namespaces: string[];
      }[];
    }[];
  };
}

export function flowSchemas(n: FlowControlNames): FlowSchemaObject[] {
  const schema = (
    suffix: string,
    level: string,
    precedence: number,
    serviceAccount: string,
    verbs: string[],
  ): FlowSchemaObject => ({
    apiVersion: FLOWCONTROL_API_VERSION,
    kind: "FlowSchema",
    metadata: { name: `${n.prefix}-${suffix}`, ...(n.labels ? { labels: n.labels } : {}) },
    spec: {
      priorityLevelConfiguration: { name: level },
      matchingPrecedence: precedence,
      distinguisherMethod: { type: "ByUser" },
      rules: [
        {
          subjects: [
            { kind: "ServiceAccount", serviceAccount: { namespace: n.namespace, name: serviceAccount } },
          ],
          resourceRules: [
            {
              verbs,
              apiGroups: ["coordination.k8s.io"],
              resources: ["leases"],
              namespaces: [n.leaseNamespace],
            },
          ],
        },
      ],
    },
  });
  return [
    // The agent creates its Lease once and renews it by patch (src/agent/agent.ts).
    schema("agent-leases", NODE_HIGH_PRIORITY_LEVEL, AGENT_LEASES_PRECEDENCE, n.agentServiceAccount, [
      "get",
      "create",
      "update",
      "patch",
    ]),
    // client-go's verbs: read, create once, replace to renew (src/controller/leader-election.ts).
    schema(
      "leader-election",
      LEADER_ELECTION_PRIORITY_LEVEL,
      LEADER_ELECTION_PRECEDENCE,
      n.controllerServiceAccount,
      ["get", "create", "update"],
    ),
  ];
}

/** Helm expressions for the names in the chart's template, behind plain tokens while YAML is written. */
const HELM: Record<keyof Omit<FlowControlNames, "labels">, [string, string]> = {
  prefix: ["HELM_FULLNAME", '{{ include "kube-offers.fullname" . }}'],
  namespace: ["HELM_NAMESPACE", "{{ .Release.Namespace }}"],
  agentServiceAccount: ["HELM_AGENT_SA", '{{ include "kube-offers.agentServiceAccount" . }}'],
  controllerServiceAccount: ["HELM_CONTROLLER_SA", '{{ include "kube-offers.controllerServiceAccount" . }}'],
  leaseNamespace: ["HELM_NAMESPACE", "{{ .Release.Namespace }}"],
};

/** deploy/helm/kube-offers/templates/flowschema.yaml, as `npm run gen:flowschema` writes it. */
export function flowSchemaTemplate(): string {
  const tokens = Object.fromEntries(Object.entries(HELM).map(([k, [token]]) => [k, token])) as Omit<
    FlowControlNames,
    "labels"
  >;
  const docs = flowSchemas({ ...tokens, labels: { HELM_LABELS: "" } }).map((o) => {
    let y = stringify(o, { lineWidth: 0 }).replace(
      '    HELM_LABELS: ""\n',
      '    {{- include "kube-offers.labels" . | nindent 4 }}\n',
    );
    for (const [token, expr] of Object.values(HELM)) y = y.replaceAll(token, expr);
    return y;
  });
  return [
    "{{- /*",
    "Generated from src/crds/flowcontrol.ts by `npm run gen:flowschema`. Do not edit.",
    "API Priority and Fairness: the agents' Lease renewals at node-high (as kubelets' node Leases),",
    "the controller's leader election at leader-election (as kube-controller-manager's).",
    "*/ -}}",
    "{{- if .Values.flowControl.enabled }}",
    docs.map((d) => `---\n${d}`).join(""),
    "{{- end }}",
    "",
  ].join("\n");
}
