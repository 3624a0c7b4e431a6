// An Agent's report held against its Node, pure. The Agent object is written by the agent on the
// node, and anyone who may write Agents (a tenant given too much RBAC, a compromised node) could
// claim capacity the node does not have or attributes it does not carry, to attract or steer
// offers. The Node is the kubelet's word: what an agent reports is clipped to the Node's
// allocatable, and its attributes are only the Node's labels (an agent may leave labels out, as
// its exclude prefixes do, but never add or change one).
import { parseQuantity } from "../resources/quantity.ts";
import type { Resources, Scalars } from "../resources/types.ts";
import type { AgentView } from "./views.ts";

export interface NodeFacts {
  metadata?: { labels?: Record<string, string> };
  status?: { allocatable?: Record<string, string> };
}

export const AGENT_CHECK_REASONS = {
  exceeds: "ReportExceedsNode",
  attributes: "AttributesNotFromNode",
  noNode: "NodeNotFound",
} as const;

export interface NodeFinding {
  reason: (typeof AGENT_CHECK_REASONS)[keyof typeof AGENT_CHECK_REASONS];
  message: string;
}

/** The short Mesos-style attribute the agent derives from a well-known label (agent/contribution.ts). */
const ALIASES: Record<string, string> = { zone: "topology.kubernetes.io/zone" };

function clip(r: Resources, cap: Scalars): Resources {
  const scalars: Scalars = {};
  for (const [k, n] of Object.entries(r.scalars)) scalars[k] = Math.min(n, cap[k] ?? 0);
  return { scalars, ports: r.ports };
}

/** The view as the Node allows it, and what had to change (empty: the report matches the Node). */
/** A Node's allocatable, parsed once per object version; quantities that do not parse count as none. */
const nodeParsed = new WeakMap<NodeFacts, { allocatable: Scalars; unreadable: string[] }>();

function nodeAllocatable(node: NodeFacts): { allocatable: Scalars; unreadable: string[] } {
  const memo = nodeParsed.get(node);
  if (memo) return memo;
  const allocatable: Scalars = {};
  const unreadable: string[] = [];
  for (const [k, v] of Object.entries(node.status?.allocatable ?? {})) {
    try {
      allocatable[k] = parseQuantity(k, v);
    } catch {
      unreadable.push(k); // counts as none of it
    }
  }
  const out = { allocatable, unreadable };
  nodeParsed.set(node, out);
  return out;
}

export function checkAgainstNode(
  view: AgentView,
  node: NodeFacts | undefined,
): { view: AgentView; findings: NodeFinding[] } {
  if (!node) {
    const message = `no Node ${view.name}: nothing can run there, so nothing is offered`;
    return {
      view: { ...view, offerable: false, reason: AGENT_CHECK_REASONS.noNode },
      findings: [{ reason: AGENT_CHECK_REASONS.noNode, message }],
    };
  }
  const findings: NodeFinding[] = [];
  const { allocatable, unreadable } = nodeAllocatable(node);
  const over = Object.entries(view.total.scalars).filter(([k, n]) => n > (allocatable[k] ?? 0));
  let total = view.total;
  let reservations = view.reservations;
  if (over.length) {
    total = clip(view.total, allocatable);
    // Reserved parts cannot exceed what is left of the whole.
    reservations = Object.fromEntries(
      Object.entries(view.reservations).map(([role, r]) => [role, clip(r, total.scalars)]),
    );
    const what = over
      .map(([k, n]) => `${k} ${n} > ${allocatable[k] ?? 0}${unreadable.includes(k) ? " (unreadable)" : ""}`)
      .join(", ");
    findings.push({
      reason: AGENT_CHECK_REASONS.exceeds,
      message: `status.resources exceeds the Node's allocatable (${what}, in milli-cores, bytes or units): clipped to it`,
    });
  }
  const labels = node.metadata?.labels ?? {};
  const attributes: Record<string, string> = {};
  const foreign: string[] = [];
  for (const [k, v] of Object.entries(view.attributes)) {
    const label = labels[k] ?? (ALIASES[k] ? labels[ALIASES[k]] : undefined);
    if (label === v) attributes[k] = v;
    else foreign.push(k);
  }
  if (foreign.length) {
    findings.push({
      reason: AGENT_CHECK_REASONS.attributes,
      message: `status.attributes ${foreign.sort().join(", ")} are not the Node's labels: left out`,
    });
  }
  if (!findings.length) return { view, findings };
  return { view: { ...view, total, reservations, attributes }, findings };
}
