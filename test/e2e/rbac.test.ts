// The chart's RBAC, proven on the real API server: helm install, then run the controller and
// the agents as local processes under the chart's own ServiceAccounts (agents with tokens bound
// to the DaemonSet's Pods, as in a cluster), configured from the installed Deployment,
// DaemonSet and ConfigMap, and drive the protocol's happy path as a tenant bound to the chart's
// framework ClusterRole. Then: the identities hold nothing beyond what the chart lists, and
// the admission policy keeps an agent to its own node.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LAUNCH_GRACE_MS } from "../../src/controller/launch-record.ts";
import { GROUP, PLURAL, VERSION } from "../../src/crds/contract.ts";
import type { ResourceOffer } from "../../src/crds/offer.ts";
import { apiMessage, statusCode } from "../../src/kube/errors.ts";
import { mergePatch } from "../../src/kube/patch.ts";
import { bundlePath } from "../../src/local/bundle.ts";
import { NodeSimulator } from "../../src/local/node-simulator.ts";
import {
  CHART,
  containerEnv,
  helm,
  helmOk,
  NodeProcess,
  parseMetrics,
  serviceAccountKubeconfig,
  waitFor,
} from "./helm-support.ts";
import { accept, BUSYBOX, FrameworkSide, task } from "./offers.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, uniqueName, waitUntil } from "./support.ts";

const admin = adminKubeConfig();
const release = uniqueName("korbac");
const fullname = `${release}-kube-offers`;
const tenantRole = `${release}-framework`;
const nodes = [`${release}-n1`, `${release}-n2`];
let ns = ""; // the release namespace
let tenantNs = "";
let sim: NodeSimulator;
let controller: NodeProcess;
const agents: NodeProcess[] = [];
let controllerUser = "";
let agentUser = "";
let tenant: KubeConfig;
const agentKc = new Map<string, KubeConfig>();

async function forbidden(p: Promise<unknown>): Promise<{ code: number | undefined; body: string }> {
  try {
    await p;
    return { code: 200, body: "" };
  } catch (err) {
    return { code: statusCode(err), body: apiMessage(err) };
  }
}

beforeAll(async () => {
  ns = await createNamespace(admin, "ko-rbac");
  tenantNs = await createNamespace(admin, "ko-tenant");
  sim = new NodeSimulator(admin);
  await sim.start(
    nodes.map((name) => ({
      name,
      capacity: { cpu: "4", memory: "8Gi" },
      labels: { "e2e.kubeoffers.io/rbac": release },
    })),
  );
  const values = join(inject("stateDir"), `${release}-values.yaml`);
  writeFileSync(
    values,
    JSON.stringify({
      crds: { enabled: false },
      pool: release,
      tenantRole: { name: tenantRole },
      agent: {
        nodeSelector: { "e2e.kubeoffers.io/rbac": release },
        // Simulated nodes keep the not-ready taint the API server puts on new Nodes (the node
        // lifecycle controller that would lift it does not run here).
        tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" }],
      },
    }),
  );
  await helmOk(["install", release, CHART, "-n", ns, "-f", values]);

  const apps = admin.makeApiClient(AppsV1Api);
  const core = admin.makeApiClient(CoreV1Api);
  // The controller, configured exactly as the chart's Deployment configures its container.
  const deploy = await apps.readNamespacedDeployment({ name: `${fullname}-controller`, namespace: ns });
  const podSpec = deploy.spec?.template.spec;
  const container = podSpec?.containers[0];
  expect(container?.args).toEqual([bundlePath("controller")]);
  const cm = await core.readNamespacedConfigMap({ name: `${fullname}-controller`, namespace: ns });
  const configFile = join(inject("stateDir"), `${release}-config.yaml`);
  writeFileSync(configFile, cm.data?.["config.yaml"] ?? "");
  const csa = await serviceAccountKubeconfig(ns, podSpec?.serviceAccountName ?? "");
  controllerUser = csa.user;
  controller = NodeProcess.controller(`${release}-controller`, {
    ...containerEnv(container ?? { name: "" }, { name: `${fullname}-controller-local`, namespace: ns }),
    CONFIG_FILE: configFile,
    KUBECONFIG: csa.path,
  });

  // The agents: one per node, each with a token bound to the DaemonSet's Pod on that node.
  const ds = await apps.readNamespacedDaemonSet({ name: `${fullname}-agent`, namespace: ns });
  const agentContainer = ds.spec?.template.spec?.containers[0];
  expect(agentContainer?.args).toEqual([bundlePath("agent")]);
  const dsPods = await waitFor(
    "the DaemonSet's Pods on our nodes",
    async () => {
      const list = await core.listNamespacedPod({
        namespace: ns,
        labelSelector: "app.kubernetes.io/component=agent",
      });
      // No kube-scheduler here: bind each DaemonSet Pod to the node its affinity names, as the
      // scheduler would.
      for (const p of list.items) {
        if (p.spec?.nodeName) continue;
        const node =
          p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]?.matchFields?.find(
            (f) => f.key === "metadata.name",
          )?.values?.[0];
        if (!node) continue;
        await core.createNamespacedPodBinding({
          name: p.metadata?.name ?? "",
          namespace: ns,
          body: { metadata: { name: p.metadata?.name ?? "" }, target: { kind: "Node", name: node } },
        });
      }
      const on = list.items.filter((p) => nodes.includes(p.spec?.nodeName ?? ""));
      return on.length === nodes.length ? on : undefined;
    },
    30_000,
    250,
  );
  for (const pod of dsPods) {
    const node = pod.spec?.nodeName ?? "";
    const asa = await serviceAccountKubeconfig(ns, pod.spec?.serviceAccountName ?? "", pod as V1Pod);
    agentUser = asa.user;
    agentKc.set(node, asa.kc);
    agents.push(
      NodeProcess.agent(`${release}-agent-${node}`, {
        ...containerEnv(agentContainer ?? { name: "" }, {
          name: pod.metadata?.name ?? "",
          namespace: ns,
          nodeName: node,
        }),
        KUBECONFIG: asa.path,
      }),
    );
  }

  // A framework's scheduler: a ServiceAccount in its namespace, bound to the chart's tenant role.
  await core.createNamespacedServiceAccount({
    namespace: tenantNs,
    body: { metadata: { name: "analytics" } },
  });
  await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace: tenantNs,
    body: {
      metadata: { name: "analytics-scheduler" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: tenantRole },
      subjects: [{ kind: "ServiceAccount", name: "analytics", namespace: tenantNs }],
    },
  });
  tenant = (await serviceAccountKubeconfig(tenantNs, "analytics")).kc;
  await controller.waitLog(/became leader/, 60_000);
}, 180_000);

afterAll(async () => {
  const co = admin.makeApiClient(CustomObjectsApi);
  // Tear the framework down while the controller still runs (it removes the finalizer).
  await co
    .deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: tenantNs,
      plural: PLURAL.framework,
      name: "analytics",
    })
    .catch(() => {});
  await waitFor(
    "the framework to be torn down",
    async () =>
      co
        .getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: tenantNs,
          plural: PLURAL.framework,
          name: "analytics",
        })
        .then(() => false)
        .catch(() => true),
    15_000,
  ).catch(async () => {
    await co
      .patchNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: tenantNs,
        plural: PLURAL.framework,
        name: "analytics",
        body: [{ op: "remove", path: "/metadata/finalizers" }],
      })
      .catch(() => {});
  });
  await Promise.all([controller?.stop(), ...agents.map((a) => a.stop())]);
  await sim?.stop();
  await helm(["uninstall", release, "-n", ns]);
  const core = admin.makeApiClient(CoreV1Api);
  for (const n of nodes) await core.deleteNode({ name: n }).catch(() => {});
  await deleteNamespace(admin, tenantNs);
  await deleteNamespace(admin, ns);
});

describe("the chart's RBAC", () => {
  it("is enough: the protocol's happy path under the chart's identities and the tenant role", async () => {
    const co = tenant.makeApiClient(CustomObjectsApi);
    const core = tenant.makeApiClient(CoreV1Api);
    const side = new FrameworkSide(tenant, tenantNs);
    // Cluster admins register frameworks; the tenant role may not create them.
    await new FrameworkSide(admin, tenantNs).createFramework(
      "analytics",
      { "kubeoffers.io/pool": release },
      { roles: ["*"], liveness: { leaseName: "analytics-scheduler" } },
    );
    // The scheduler's liveness Lease, renewed by the tenant itself.
    const coord = tenant.makeApiClient(CoordinationV1Api);
    const renew = async () => {
      const spec = {
        holderIdentity: "analytics-0",
        leaseDurationSeconds: 30,
        renewTime: new Date().toISOString().replace("Z", "000Z"),
      };
      await coord
        .patchNamespacedLease(
          { name: "analytics-scheduler", namespace: tenantNs, body: { spec } },
          mergePatch,
        )
        .catch(async (err: unknown) => {
          if (statusCode(err) !== 404) throw err;
          await coord.createNamespacedLease({
            namespace: tenantNs,
            body: { metadata: { name: "analytics-scheduler" }, spec: spec as never },
          });
        });
    };
    await renew();
    const open = await waitFor(
      "an offer from each agent, read by the tenant",
      async () => {
        await renew();
        const os = (await side.offers()).filter((o) => o.status?.phase === "Offered");
        return new Set(os.map((o) => o.spec.agent)).size === nodes.length ? os : undefined;
      },
      60_000,
      250,
    );
    const offer = open[0] as ResourceOffer;
    const size = { cpu: "500m", memory: "256Mi" };
    await side.answer(
      offer.metadata.name ?? "",
      accept([
        task("done", size, { runSeconds: 1, spec: BUSYBOX }),
        task("forever", size, { spec: BUSYBOX }),
      ]),
    );
    const pod = await waitFor("the task's Pod, read by the tenant", () =>
      core.readNamespacedPod({ name: "analytics-done", namespace: tenantNs }).catch(() => undefined),
    );
    expect(pod.spec?.nodeName).toBe(offer.spec.agent);
    await waitFor("the long task to run", async () => {
      const p = await core.readNamespacedPod({ name: "analytics-forever", namespace: tenantNs });
      return p.status?.phase === "Running";
    });
    // The tenant kills a task by deleting its Pod — after the operator's grace for a launched
    // Pod missing from its cache (which runs from the answeredAt the operator recorded), so the
    // kill is judged as a kill, not as a launch still on its way.
    const recorded = await waitFor("the operator's launch record, read by the tenant", async () => {
      const o = (await co.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: tenantNs,
        plural: PLURAL.resourceOffer,
        name: offer.metadata.name ?? "",
      })) as ResourceOffer;
      return o.status?.answeredAt;
    });
    await waitUntil("the launch grace to end", Date.parse(recorded) + LAUNCH_GRACE_MS + 1);
    await core.deleteNamespacedPod({ name: "analytics-forever", namespace: tenantNs });
    const settled = await waitFor(
      "TASK_FINISHED and TASK_KILLED in the offer's status",
      async () => {
        await renew();
        const o = (await co.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: tenantNs,
          plural: PLURAL.resourceOffer,
          name: offer.metadata.name ?? "",
        })) as ResourceOffer;
        const states = Object.fromEntries((o.status?.tasks ?? []).map((t) => [t.id, t.state]));
        return states.done === "TASK_FINISHED" && states.forever === "TASK_KILLED" ? o : undefined;
      },
      30_000,
      250,
    );
    expect(settled.status?.phase).toBe("Accepted");
    const fw = await waitFor("the framework's status roll-up, read by the tenant", async () => {
      const f = await side.framework("analytics");
      return f.status?.tasks?.TASK_FINISHED === 1 ? f : undefined;
    });
    expect(fw.status?.phase).toBe("Active");
    // SUPPRESS through the tenant role (a patch of the Framework's spec).
    await co.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: tenantNs,
        plural: PLURAL.framework,
        name: "analytics",
        body: { spec: { suppressedRoles: ["*"] } },
      },
      mergePatch,
    );
    // No request of the controller or the agents was refused.
    const metrics = parseMetrics(await (await fetch(`${await controller.url()}/metrics`)).text());
    const refused = metrics.filter(
      (m) => m.name === "kubeoffers_api_requests_total" && /^4(01|03)$/.test(m.labels.code ?? ""),
    );
    expect(refused).toEqual([]);
    for (const p of [controller, ...agents]) {
      const denied = p.lines.filter((l) =>
        /\b(forbidden|unauthorized|403|401)\b/i.test(`${l.msg} ${l.err ?? ""}`),
      );
      expect(denied, `${p.name} was refused something; log ${p.logFile}`).toEqual([]);
    }
    expect(metrics.find((m) => m.name === "kubeoffers_leader_election_master_status")?.value).toBe(1);
  });

  it("is not more: the controller and agent hold nothing beyond what the chart lists", async () => {
    const authz = admin.makeApiClient(AuthorizationV1Api);
    const can = async (
      user: string,
      a: {
        verb: string;
        group?: string;
        resource: string;
        namespace?: string;
        name?: string;
        subresource?: string;
      },
    ) => {
      const saNs = user.split(":")[2] ?? "";
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user,
            groups: ["system:serviceaccounts", `system:serviceaccounts:${saNs}`, "system:authenticated"],
            resourceAttributes: { group: a.group ?? "", ...a },
          },
        },
      });
      return r.status?.allowed === true;
    };
    const ko = "kubeoffers.io";
    const lease = "kube-offers-controller";
    const allowed = {
      [controllerUser]: [
        { verb: "watch", group: ko, resource: "agents" },
        { verb: "list", group: ko, resource: "frameworks" },
        { verb: "patch", group: ko, resource: "frameworks", namespace: tenantNs },
        { verb: "patch", group: ko, resource: "frameworks", subresource: "status", namespace: tenantNs },
        { verb: "create", group: ko, resource: "resourceoffers", namespace: tenantNs },
        { verb: "delete", group: ko, resource: "resourceoffers", namespace: tenantNs },
        { verb: "patch", group: ko, resource: "resourceoffers", subresource: "status", namespace: tenantNs },
        { verb: "create", resource: "pods", namespace: tenantNs },
        { verb: "delete", resource: "pods", namespace: tenantNs },
        { verb: "watch", resource: "nodes" },
        { verb: "watch", resource: "pods" },
        { verb: "list", group: "coordination.k8s.io", resource: "leases" },
        { verb: "create", group: "events.k8s.io", resource: "events", namespace: tenantNs },
        { verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: ns, name: lease },
        { verb: "patch", group: ko, resource: "agents", name: nodes[0] },
        { verb: "patch", group: ko, resource: "resourceroles", subresource: "status" },
      ],
      [agentUser]: [
        { verb: "watch", resource: "nodes" },
        { verb: "create", group: ko, resource: "agents" },
        { verb: "patch", group: ko, resource: "agents", subresource: "status", name: nodes[0] },
        {
          verb: "patch",
          group: "coordination.k8s.io",
          resource: "leases",
          namespace: ns,
          name: `agent-${nodes[0]}`,
        },
      ],
    };
    const denied = {
      [controllerUser]: [
        { verb: "get", resource: "secrets", namespace: ns },
        { verb: "list", resource: "secrets" },
        { verb: "get", resource: "configmaps", namespace: ns },
        { verb: "create", resource: "configmaps", namespace: tenantNs },
        { verb: "create", resource: "serviceaccounts", subresource: "token", namespace: ns, name: "default" },
        { verb: "create", resource: "pods", subresource: "exec", namespace: tenantNs, name: "x" },
        { verb: "create", resource: "pods", subresource: "eviction", namespace: tenantNs, name: "x" },
        { verb: "update", resource: "pods", subresource: "status", namespace: tenantNs, name: "x" },
        { verb: "patch", resource: "nodes" },
        { verb: "delete", resource: "nodes" },
        { verb: "create", resource: "services", namespace: ns },
        { verb: "create", group: "apps", resource: "deployments", namespace: ns },
        { verb: "patch", group: ko, resource: "agents", subresource: "status" },
        { verb: "delete", group: ko, resource: "agents" },
        { verb: "patch", group: ko, resource: "resourceroles" },
        { verb: "create", group: ko, resource: "frameworks", namespace: tenantNs },
        { verb: "delete", group: ko, resource: "frameworks", namespace: tenantNs },
        { verb: "patch", group: ko, resource: "resourceoffers", namespace: tenantNs },
        { verb: "create", group: ko, resource: "resourceroles" },
        { verb: "delete", group: ko, resource: "resourceroles" },
        {
          verb: "update",
          group: "coordination.k8s.io",
          resource: "leases",
          namespace: ns,
          name: `agent-${nodes[0]}`,
        },
        {
          verb: "update",
          group: "coordination.k8s.io",
          resource: "leases",
          namespace: tenantNs,
          name: "analytics-scheduler",
        },
        { verb: "create", resource: "events", namespace: tenantNs },
        { verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings" },
        { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
        { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
        { verb: "impersonate", resource: "users" },
        { verb: "update", group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
      ],
      [agentUser]: [
        { verb: "get", resource: "secrets", namespace: ns },
        { verb: "list", resource: "secrets" },
        // The Pods on its node that are not tasks are the operator's to count.
        { verb: "list", resource: "pods" },
        { verb: "watch", resource: "pods" },
        { verb: "create", resource: "pods", namespace: tenantNs },
        { verb: "delete", resource: "pods", namespace: tenantNs },
        { verb: "patch", resource: "nodes" },
        { verb: "update", resource: "nodes", subresource: "status" },
        { verb: "patch", group: ko, resource: "agents" },
        { verb: "delete", group: ko, resource: "agents" },
        { verb: "list", group: ko, resource: "frameworks" },
        { verb: "list", group: ko, resource: "resourceoffers" },
        { verb: "create", group: ko, resource: "resourceoffers", namespace: tenantNs },
        { verb: "list", group: "coordination.k8s.io", resource: "leases", namespace: ns },
        { verb: "patch", group: "coordination.k8s.io", resource: "leases", namespace: tenantNs },
        { verb: "patch", group: "coordination.k8s.io", resource: "leases", namespace: "kube-node-lease" },
        { verb: "create", group: "events.k8s.io", resource: "events", namespace: ns },
      ],
    };
    const wrong: string[] = [];
    for (const [user, list] of Object.entries(allowed))
      for (const a of list)
        if (!(await can(user, a))) wrong.push(`${user} should be allowed ${JSON.stringify(a)}`);
    for (const [user, list] of Object.entries(denied))
      for (const a of list)
        if (await can(user, a)) wrong.push(`${user} must not be allowed ${JSON.stringify(a)}`);
    expect(wrong).toEqual([]);

    // And for real, with the controller's own token: Secrets are out of reach.
    const ckc = (await serviceAccountKubeconfig(ns, `${fullname}-controller`)).kc;
    const secrets = await forbidden(ckc.makeApiClient(CoreV1Api).listSecretForAllNamespaces());
    expect(secrets.code).toBe(403);
    const own = await forbidden(ckc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }));
    expect(own.code).toBe(403);
  });

  it("keeps an agent to its own node (admission policy): no other node's Lease or Agent, never the election Lease", async () => {
    const [n1, n2] = nodes as [string, string];
    const kc = agentKc.get(n1) as KubeConfig;
    const coord = kc.makeApiClient(CoordinationV1Api);
    const co = kc.makeApiClient(CustomObjectsApi);
    const spec = { spec: { holderIdentity: "intruder" } };
    const otherLease = await forbidden(
      coord.patchNamespacedLease({ name: `agent-${n2}`, namespace: ns, body: spec }, mergePatch),
    );
    expect(otherLease.code).toBe(422); // an admission denial is Invalid
    expect(otherLease.body).toMatch(/may only write its own Agent and Lease/);
    const election = await forbidden(
      coord.patchNamespacedLease({ name: "kube-offers-controller", namespace: ns, body: spec }, mergePatch),
    );
    expect(election.code).toBe(422);
    expect(election.body).toMatch(/only write Leases named agent-<node>/);
    const otherAgent = await forbidden(
      co.patchClusterCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL.agent,
          name: n2,
          body: { status: { agentVersion: "intruder" } },
        },
        mergePatch,
      ),
    );
    expect(otherAgent.code).toBe(422);
    expect(otherAgent.body).toMatch(/may only write its own Agent and Lease/);
    // Its own Lease is fine.
    await coord.patchNamespacedLease(
      { name: `agent-${n1}`, namespace: ns, body: { spec: { leaseDurationSeconds: 20 } } },
      mergePatch,
    );
  });
});
