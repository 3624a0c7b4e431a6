// The Helm chart: lint, render, values validated by values.schema.json, the chart's Pods pass
// the `restricted` Pod Security level, and install / upgrade / uninstall on the real API server
// (CRDs installed and kept). The RBAC it grants is proven in rbac.test.ts.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { settingsFrom } from "../../src/controller/main.ts";
import { repoRoot } from "../../src/local/binaries.ts";
import { bundlePath } from "../../src/local/bundle.ts";
import { CHART, helm, helmOk } from "./helm-support.ts";
import { adminKubeConfig, createNamespace, deleteNamespace, uniqueName } from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are arbitrary objects
type Manifest = any;

async function render(args: string[] = [], ns = "kube-offers-system"): Promise<Manifest[]> {
  const out = await helmOk(["template", "ko", CHART, "-n", ns, ...args]);
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((d) => d);
}

const byKind = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind);
const admin = adminKubeConfig();
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe("helm chart", () => {
  it("lints cleanly", async () => {
    const r = await helm(["lint", CHART, "--strict"]);
    expect(r.stderr + r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.code).toBe(0);
  });

  it("renders the controller, agent, RBAC, metrics and CRDs with safe defaults", async () => {
    const ms = await render();
    const kinds = ms.map((m) => m.kind).sort();
    expect(new Set(kinds)).toEqual(
      new Set([
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "CustomResourceDefinition",
        "DaemonSet",
        "Deployment",
        "FlowSchema",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
      ]),
    );
    const [deploy] = byKind(ms, "Deployment");
    expect(deploy.spec.replicas).toBe(2);
    const c = deploy.spec.template.spec.containers[0];
    expect(c.args).toEqual([bundlePath("controller")]);
    const env = Object.fromEntries(c.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      LEADER_ELECT: "true",
      LEADER_ELECTION_ID: "kube-offers-controller",
      LEASE_DURATION: "15s",
      RENEW_DEADLINE: "10s",
      RETRY_PERIOD: "2s",
      AGENT_LEASE_NAMESPACE: "kube-offers-system",
      POD_NAME: { fieldRef: { fieldPath: "metadata.name" } },
      NODE_OPTIONS: "--max-semi-space-size=16",
    });
    expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    expect(deploy.spec.template.spec.serviceAccountName).toBe("ko-kube-offers-controller");
    const [ds] = byKind(ms, "DaemonSet");
    expect(ds.spec.template.spec.serviceAccountName).toBe("ko-kube-offers-agent");
    expect(ds.spec.template.spec.containers[0].args).toEqual([bundlePath("agent")]);
    for (const spec of [deploy.spec.template.spec, ds.spec.template.spec]) {
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(spec.containers[0].securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
    }
    const [pdb] = byKind(ms, "PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(1);
    const [svc] = byKind(ms, "Service");
    expect(svc.spec.ports[0]).toMatchObject({ name: "http-metrics", port: 8080 });
    expect(byKind(ms, "ServiceMonitor")).toEqual([]);
    const config = parse(byKind(ms, "ConfigMap")[0].data["config.yaml"]);
    expect(config.podPolicy).toEqual({
      forbidHostPortsOutsideOffer: true,
      forbidHostNamespaces: true,
      forbidHostPath: true,
      forbidPrivileged: true,
    });
  });

  it("targets a dedicated pool: node selector, tolerations and pool label reach the agent", async () => {
    const ms = await render([
      "--set",
      "pool=batch",
      "--set",
      "agent.nodeSelector.dedicated=kube-offers",
      "--set-json",
      'agent.tolerations=[{"key":"dedicated","operator":"Equal","value":"kube-offers","effect":"NoSchedule"}]',
      "--set-json",
      'agent.reserve={"cpu":"500m","memory":"1Gi"}',
    ]);
    const ds = byKind(ms, "DaemonSet")[0].spec.template.spec;
    expect(ds.nodeSelector).toEqual({ dedicated: "kube-offers" });
    expect(ds.tolerations).toEqual([
      { key: "dedicated", operator: "Equal", value: "kube-offers", effect: "NoSchedule" },
    ]);
    const env = Object.fromEntries(ds.containers[0].env.map((e: Manifest) => [e.name, e.value]));
    expect(env.POOL).toBe("batch");
    expect(JSON.parse(env.AGENT_RESERVE)).toEqual({ cpu: "500m", memory: "1Gi" });
    const controllerEnv = byKind(ms, "Deployment")[0].spec.template.spec.containers[0].env;
    expect(controllerEnv.find((e: Manifest) => e.name === "POOL")?.value).toBe("batch");
  });

  it("passes the controller's Node options through, and none when they are emptied", async () => {
    const envOf = async (args: string[]) =>
      byKind(await render(args), "Deployment")[0].spec.template.spec.containers[0].env.find(
        (e: Manifest) => e.name === "NODE_OPTIONS",
      );
    expect((await envOf(["--set", "controller.nodeOptions=--max-old-space-size=400"]))?.value).toBe(
      "--max-old-space-size=400",
    );
    expect(await envOf(["--set", "controller.nodeOptions="])).toBeUndefined();
  });

  it("renders the CRDs from config/crd, kept on uninstall; both switchable", async () => {
    const crds = byKind(await render(), "CustomResourceDefinition");
    const files = readdirSync(join(repoRoot, "config/crd")).filter((f) => f.endsWith(".yaml"));
    expect(crds).toHaveLength(files.length);
    for (const f of files) {
      const want = parse(readFileSync(join(repoRoot, "config/crd", f), "utf8"));
      const got = crds.find((c) => c.metadata.name === want.metadata.name);
      expect(got.metadata.annotations).toEqual({ "helm.sh/resource-policy": "keep" });
      const { annotations: _, ...meta } = got.metadata;
      expect({ ...got, metadata: meta }).toEqual(want);
    }
    const notKept = byKind(await render(["--set", "crds.keep=false"]), "CustomResourceDefinition");
    expect(notKept).toHaveLength(files.length);
    expect(notKept.every((c) => c.metadata.annotations === undefined)).toBe(true);
    expect(byKind(await render(["--set", "crds.enabled=false"]), "CustomResourceDefinition")).toEqual([]);
  });

  it("renders an optional ServiceMonitor and no PDB for a single replica", async () => {
    const ms = await render([
      "--set",
      "metrics.serviceMonitor.enabled=true",
      "--set",
      "controller.replicas=1",
    ]);
    const [sm] = byKind(ms, "ServiceMonitor");
    expect(sm.spec.endpoints[0]).toMatchObject({ port: "http-metrics", path: "/metrics" });
    expect(byKind(ms, "PodDisruptionBudget")).toEqual([]);
  });

  it("gives tenants exactly their offers, their Pods (read, delete), their Lease and their Framework", async () => {
    const [role] = byKind(await render(["--set", "tenantRole.name=my-frameworks"]), "ClusterRole").filter(
      (r) => r.metadata.name === "my-frameworks",
    );
    expect(role.rules).toEqual([
      {
        apiGroups: ["kubeoffers.io"],
        resources: ["resourceoffers"],
        verbs: ["get", "list", "watch", "patch"],
      },
      { apiGroups: ["kubeoffers.io"], resources: ["frameworks"], verbs: ["get", "list", "watch", "patch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "delete"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "create", "update", "patch"],
      },
    ]);
    const names = byKind(await render(), "ClusterRole").map((r) => r.metadata.name);
    expect(names).toContain("kube-offers-framework");
  });

  it.each([
    [["--set", "bogus=1"], /additional properties 'bogus' not allowed/],
    [["--set", "controller.replicas=0"], /\/controller\/replicas': minimum: got 0, want 1/],
    [["--set", "controller.replicas=two"], /\/controller\/replicas': got string, want integer/],
    [
      ["--set", "controller.leaderElection.leaseDuration=fifteen"],
      /leaseDuration': 'fifteen' does not match pattern/,
    ],
    [["--set", "agent.reserve.cpu=lots"], /\/agent\/reserve\/cpu'/],
    [
      ["--set-json", 'agent.ports=[{"begin":0,"end":10}]'],
      /\/agent\/ports\/0\/begin': minimum: got 0, want 1/,
    ],
    [
      ["--set", "controller.config.podPolicy.forbidRoot=true"],
      /additional properties 'forbidRoot' not allowed/,
    ],
    [["--set", "image.pullPolicy=Sometimes"], /value must be one of 'Always', 'IfNotPresent', 'Never'/],
    [["--set", "pool=Not A Label"], /\/pool'.*does not match pattern/],
    [["--set", "controller.logLevel=loud"], /logLevel': value must be one of/],
    [
      ["--set", "mesos.config.namespaces.spark=Team_A"],
      /\/mesos\/config\/namespaces\/spark'.*does not match pattern/,
    ],
    [["--set", "mesos.config.authentication.ldap=x"], /additional properties 'ldap' not allowed/],
    // Cross-field rules are the templates' `fail`, which lint only reports as information.
    [
      ["--set", "controller.replicas=3", "--set", "controller.leaderElection.enabled=false"],
      /controller.replicas > 1 needs controller.leaderElection.enabled=true/,
      "template-only",
    ],
    [["--set", "mesos.enabled=true"], /mesos.enabled needs mesos.config.namespaces/, "template-only"],
  ])("rejects bad values %j with a clear message", async (args, message, only?: string) => {
    const r = await helm(["template", "ko", CHART, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    // lint validates values against the schema the same way.
    const l = await helm(["lint", CHART, ...args]);
    if (only !== "template-only") expect(l.code).not.toBe(0);
  });

  it("writes a config file the controller accepts, with and without the Mesos API", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ko-chart-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const load = (cfg: Manifest) => {
      const file = join(dir, `config-${Math.random()}.yaml`);
      writeFileSync(file, cfg.data?.["config.yaml"] ?? cfg.stringData?.["config.yaml"]);
      const s = settingsFrom(["--config", file], { POD_NAMESPACE: "kube-offers-system", POD_NAME: "p" });
      if (s === "help") throw new Error("help");
      return s;
    };
    const plain = load(byKind(await render(), "ConfigMap")[0]);
    expect(plain.operator.allocationIntervalMs).toBe(1000);
    expect(plain.mesos).toBeUndefined();
    const ms = await render([
      "--set",
      "mesos.enabled=true",
      "--set-json",
      'mesos.config={"namespaces":{"spark":"team-a","flink":"team-b"},"defaultNamespace":"team-c","defaultImage":"busybox","allowUnauthenticated":true}',
    ]);
    const withMesos = load(byKind(ms, "ConfigMap")[0]);
    expect(withMesos.mesos).toMatchObject({
      enabled: true,
      port: 5050,
      namespaces: { spark: "team-a", flink: "team-b" },
      defaultNamespace: "team-c",
    });
    const [svc] = byKind(ms, "Service").filter((x) => x.metadata.name === "ko-kube-offers-mesos");
    expect(svc.spec).toMatchObject({
      sessionAffinity: "ClientIP",
      ports: [{ name: "mesos", port: 5050, targetPort: "mesos" }],
    });
    const ports = byKind(ms, "Deployment")[0].spec.template.spec.containers[0].ports.map(
      (p: Manifest) => p.name,
    );
    expect(ports).toEqual(["http-metrics", "mesos"]);
    // What the Mesos API needs, bound only in the namespaces its principals map to.
    const [role] = byKind(ms, "ClusterRole").filter((x) => x.metadata.name === "ko-kube-offers-mesos");
    expect(role.rules).toEqual([
      { apiGroups: ["kubeoffers.io"], resources: ["frameworks"], verbs: ["create", "delete"] },
      { apiGroups: ["kubeoffers.io"], resources: ["resourceoffers"], verbs: ["patch"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "create", "update", "patch", "delete"],
      },
    ]);
    const bindings = byKind(ms, "RoleBinding").filter((x) => x.metadata.name === "ko-kube-offers-mesos");
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(["team-a", "team-b", "team-c"]);
    expect(byKind(ms, "ClusterRoleBinding").some((b) => b.roleRef.name === "ko-kube-offers-mesos")).toBe(
      false,
    );
    // Credentials move the whole config into a Secret.
    const secured = await render([
      "--set",
      "mesos.enabled=true",
      "--set",
      "mesos.config.defaultNamespace=team-a",
      "--set",
      "mesos.config.authentication.basic.spark=s3cret",
    ]);
    expect(byKind(secured, "ConfigMap")).toEqual([]);
    const [secret] = byKind(secured, "Secret");
    expect(load(secret).mesos?.authentication).toEqual({ basic: { spark: "s3cret" } });
    const volume = byKind(secured, "Deployment")[0].spec.template.spec.volumes.find(
      (v: Manifest) => v.name === "config",
    );
    expect(volume.secret.secretName).toBe("ko-kube-offers-controller");
  });

  it("runs its Pods at the `restricted` Pod Security level (server-side dry run)", async () => {
    const ns = await createNamespace(admin, "ko-psa");
    cleanups.push(() => deleteNamespace(admin, ns));
    const core = admin.makeApiClient(CoreV1Api);
    await core.patchNamespace(
      {
        name: ns,
        body: { metadata: { labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
      },
      (await import("../../src/kube/patch.ts")).mergePatch,
    );
    const ms = await render([], ns);
    for (const w of [...byKind(ms, "Deployment"), ...byKind(ms, "DaemonSet")]) {
      const spec: V1PodSpec = { ...w.spec.template.spec, serviceAccountName: "default" };
      const created = await core.createNamespacedPod({
        namespace: ns,
        dryRun: "All",
        body: { metadata: { generateName: "chart-", namespace: ns }, spec },
      });
      expect(created.spec?.securityContext?.runAsNonRoot).toBe(true);
    }
    // And the check bites: a privileged container is refused in that namespace.
    await expect(
      core.createNamespacedPod({
        namespace: ns,
        dryRun: "All",
        body: {
          metadata: { generateName: "bad-" },
          spec: { containers: [{ name: "c", image: "busybox", securityContext: { privileged: true } }] },
        },
      }),
    ).rejects.toMatchObject({ code: 403 });
  });

  it("installs, upgrades and uninstalls on the API server, keeping the CRDs", {
    timeout: 180_000,
  }, async () => {
    const release = uniqueName("kohelm");
    const ns = await createNamespace(admin, "ko-helm");
    cleanups.push(() => deleteNamespace(admin, ns));
    cleanups.push(() => helm(["uninstall", release, "-n", ns]));
    const fullname = `${release}-kube-offers`;
    const common = [
      "-n",
      ns,
      // The CRDs exist already (the test run installed them): adopt them into the release.
      "--take-ownership",
      "--set",
      `tenantRole.name=${release}-framework`,
      // Keep the DaemonSet off the nodes other tests simulate.
      "--set",
      `agent.nodeSelector.e2e\\.kubeoffers\\.io/none=${release}`,
    ];
    await helmOk(["install", release, CHART, ...common]);
    const apps = admin.makeApiClient(AppsV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const ext = admin.makeApiClient(ApiextensionsV1Api);
    const deploy = await apps.readNamespacedDeployment({ name: `${fullname}-controller`, namespace: ns });
    expect(deploy.spec?.replicas).toBe(2);
    await apps.readNamespacedDaemonSet({ name: `${fullname}-agent`, namespace: ns });
    for (const n of [`${fullname}-controller`, `${fullname}-agent`, `${release}-framework`])
      await rbac.readClusterRole({ name: n });
    await rbac.readNamespacedRole({ name: `${fullname}-leader-election`, namespace: ns });
    for (const f of readdirSync(join(repoRoot, "config/crd")).filter((x) => x.endsWith(".yaml"))) {
      const name = f.replace(/\.yaml$/, "");
      const crd = await ext.readCustomResourceDefinition({ name });
      expect(crd.metadata?.annotations?.["meta.helm.sh/release-name"]).toBe(release);
      expect(crd.metadata?.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    }
    const status = await helmOk(["status", release, "-n", ns]);
    expect(status).toMatch(/STATUS: deployed/);

    await helmOk(["upgrade", release, CHART, ...common, "--set", "controller.replicas=3"]);
    const upgraded = await apps.readNamespacedDeployment({ name: `${fullname}-controller`, namespace: ns });
    expect(upgraded.spec?.replicas).toBe(3);

    await helmOk(["uninstall", release, "-n", ns]);
    await expect(rbac.readClusterRole({ name: `${fullname}-controller` })).rejects.toMatchObject({
      code: 404,
    });
    // The CRDs, and so every Framework, ResourceOffer, Agent and ResourceRole, survive.
    for (const f of readdirSync(join(repoRoot, "config/crd")).filter((x) => x.endsWith(".yaml"))) {
      const crd = await ext.readCustomResourceDefinition({ name: f.replace(/\.yaml$/, "") });
      expect(crd.metadata?.deletionTimestamp).toBeUndefined();
      expect(crd.status?.conditions?.find((c) => c.type === "Established")?.status).toBe("True");
    }
  });
});
