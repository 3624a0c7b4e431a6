import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ANNOTATION_RESOURCES } from "../crds/contract.ts";
import {
  BASELINE_CAPABILITIES,
  checkPodPolicy,
  grantedPorts,
  PodPolicySchema,
  STRICT_POD_POLICY,
} from "./pod-policy.ts";

function pod(spec: Partial<NonNullable<V1Pod["spec"]>>, ports?: { begin: number; end: number }[]): V1Pod {
  return {
    metadata: {
      name: "fw-t1",
      annotations: { [ANNOTATION_RESOURCES]: JSON.stringify({ cpu: "1", ...(ports ? { ports } : {}) }) },
    },
    spec: { containers: [{ name: "main", image: "busybox" }], ...spec },
  };
}

describe("checkPodPolicy", () => {
  it("allows a plain task Pod and anything when there is no policy", () => {
    expect(checkPodPolicy(pod({}), STRICT_POD_POLICY)).toBeUndefined();
    expect(
      checkPodPolicy(
        pod({ hostNetwork: true, containers: [{ name: "m", securityContext: { privileged: true } }] }),
        undefined,
      ),
    ).toBeUndefined();
    expect(checkPodPolicy(pod({ hostNetwork: true }), {})).toBeUndefined();
  });

  it.each([
    ["hostNetwork", { hostNetwork: true }, /spec\.hostNetwork/],
    ["hostPID", { hostPID: true }, /spec\.hostPID/],
    ["hostIPC", { hostIPC: true }, /spec\.hostIPC/],
    [
      "Windows hostProcess",
      { securityContext: { windowsOptions: { hostProcess: true } } },
      /windowsOptions\.hostProcess/,
    ],
  ] as const)("forbids the host namespace %s", (_n, spec, re) => {
    const msg = checkPodPolicy(pod(spec as never), STRICT_POD_POLICY);
    expect(msg).toMatch(re);
    expect(msg).toMatch(/^forbidden by the cluster's pod policy/);
    // Baseline forbids hostProcess too (see below): relaxing both allows every row.
    expect(
      checkPodPolicy(pod(spec as never), {
        ...STRICT_POD_POLICY,
        forbidHostNamespaces: false,
        enforceBaseline: false,
      }),
    ).toBeUndefined();
  });

  it("forbids hostPath volumes, naming the volume and path", () => {
    const p = pod({
      volumes: [
        { name: "data", emptyDir: {} },
        { name: "root", hostPath: { path: "/" } },
      ],
    });
    expect(checkPodPolicy(p, STRICT_POD_POLICY)).toMatch(
      /spec\.volumes\[1\] \(root\): hostPath volume \/ is forbidden/,
    );
    expect(checkPodPolicy(p, { forbidHostPath: false })).toBeUndefined();
  });

  it("forbids privileged containers, init and ephemeral ones included", () => {
    const priv = { securityContext: { privileged: true } };
    expect(
      checkPodPolicy(pod({ containers: [{ name: "a" }, { name: "side", ...priv }] }), STRICT_POD_POLICY),
    ).toMatch(/spec\.containers\[1\] \(side\)\.securityContext\.privileged/);
    expect(checkPodPolicy(pod({ initContainers: [{ name: "init", ...priv }] }), STRICT_POD_POLICY)).toMatch(
      /spec\.initContainers\[0\] \(init\)/,
    );
    expect(
      checkPodPolicy(pod({ ephemeralContainers: [{ name: "dbg", ...priv }] }), STRICT_POD_POLICY),
    ).toMatch(/spec\.ephemeralContainers\[0\] \(dbg\)/);
    expect(
      checkPodPolicy(
        pod({ containers: [{ name: "a", securityContext: { privileged: false } }] }),
        STRICT_POD_POLICY,
      ),
    ).toBeUndefined();
  });

  it("allows host ports inside the task's granted ranges and forbids others, in any container", () => {
    const granted = [{ begin: 31000, end: 31002 }];
    const ok = pod(
      {
        containers: [
          { name: "main", ports: [{ containerPort: 31000, hostPort: 31000 }, { containerPort: 80 }] },
        ],
      },
      granted,
    );
    expect(checkPodPolicy(ok, STRICT_POD_POLICY)).toBeUndefined();
    const sidecar = pod(
      {
        containers: [
          { name: "main", ports: [{ containerPort: 31001, hostPort: 31001 }] },
          { name: "side", ports: [{ containerPort: 8080, hostPort: 8080 }] },
        ],
      },
      granted,
    );
    expect(checkPodPolicy(sidecar, STRICT_POD_POLICY)).toMatch(
      /spec\.containers\[1\] \(side\)\.ports\[0\]\.hostPort: 8080 is outside the ports offered to the task \(31000-31002\)/,
    );
    const noPorts = pod({ initContainers: [{ name: "i", ports: [{ containerPort: 22, hostPort: 22 }] }] });
    expect(checkPodPolicy(noPorts, STRICT_POD_POLICY)).toMatch(/hostPort: 22 is outside .*\(none\)/);
    // An explicit allow-list overrides the annotation.
    expect(checkPodPolicy(sidecar, STRICT_POD_POLICY, [{ begin: 8080, end: 31001 }])).toBeUndefined();
    expect(checkPodPolicy(sidecar, { forbidHostPortsOutsideOffer: false })).toBeUndefined();
  });

  it("lists every violation in one message", () => {
    const msg = checkPodPolicy(
      pod({
        hostPID: true,
        volumes: [{ name: "h", hostPath: { path: "/var/run" } }],
        containers: [{ name: "m", securityContext: { privileged: true } }],
      }),
      STRICT_POD_POLICY,
    );
    expect(msg?.split("; ")).toHaveLength(3);
  });
});

describe("Pod Security baseline and the allowlists (the default policy)", () => {
  const m = (securityContext: Record<string, unknown>) => ({ name: "m", securityContext });
  const secretEnv = { name: "m", env: [{ name: "P", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] };
  // Each row: what the template does, the Pod spec (and annotations), the field the refusal names,
  // and the policy under which the same Pod is allowed (the rule switched off or the name listed).
  const refused: [
    string,
    Record<string, unknown>,
    RegExp,
    Record<string, unknown>,
    Record<string, string>?,
  ][] = [
    [
      "a capability beyond the baseline set",
      { containers: [m({ capabilities: { add: ["CHOWN", "SYS_ADMIN"] } })] },
      /spec\.containers\[0\] \(m\)\.securityContext\.capabilities\.add\[1\]: capability SYS_ADMIN is beyond the baseline set/,
      { enforceBaseline: false },
    ],
    [
      "NET_RAW (dropped from the baseline set)",
      { initContainers: [m({ capabilities: { add: ["NET_RAW"] } })] },
      /spec\.initContainers\[0\] \(m\)\.securityContext\.capabilities\.add\[0\]: capability NET_RAW/,
      { enforceBaseline: false },
    ],
    [
      "Unconfined seccomp on the Pod",
      { securityContext: { seccompProfile: { type: "Unconfined" } } },
      /spec\.securityContext\.seccompProfile\.type: Unconfined seccomp/,
      { enforceBaseline: false },
    ],
    [
      "Unconfined seccomp on a container",
      { containers: [m({ seccompProfile: { type: "Unconfined" } })] },
      /spec\.containers\[0\] \(m\)\.securityContext\.seccompProfile\.type/,
      { enforceBaseline: false },
    ],
    [
      "Unconfined AppArmor (field)",
      { containers: [m({ appArmorProfile: { type: "Unconfined" } })] },
      /spec\.containers\[0\] \(m\)\.securityContext\.appArmorProfile\.type: Unconfined AppArmor/,
      { enforceBaseline: false },
    ],
    [
      "Unconfined AppArmor (Pod securityContext)",
      { securityContext: { appArmorProfile: { type: "Unconfined" } } },
      /spec\.securityContext\.appArmorProfile\.type/,
      { enforceBaseline: false },
    ],
    [
      "unconfined AppArmor (annotation)",
      {},
      /metadata\.annotations\["container\.apparmor\.security\.beta\.kubernetes\.io\/main"\]: AppArmor profile unconfined/,
      { enforceBaseline: false },
      { "container.apparmor.security.beta.kubernetes.io/main": "unconfined" },
    ],
    [
      "an Unmasked /proc",
      { containers: [m({ procMount: "Unmasked" })] },
      /spec\.containers\[0\] \(m\)\.securityContext\.procMount: Unmasked/,
      { enforceBaseline: false },
    ],
    [
      "an SELinux user",
      { securityContext: { seLinuxOptions: { user: "root" } } },
      /spec\.securityContext\.seLinuxOptions\.user/,
      { enforceBaseline: false },
    ],
    [
      "an unsafe sysctl",
      {
        securityContext: {
          sysctls: [
            { name: "net.ipv4.tcp_syncookies", value: "1" },
            { name: "kernel.msgmax", value: "1" },
          ],
        },
      },
      /spec\.securityContext\.sysctls\[1\]\.name: sysctl kernel\.msgmax is not a safe sysctl/,
      { enforceBaseline: false },
    ],
    [
      "a priority class not allowed",
      { priorityClassName: "system-node-critical" },
      /spec\.priorityClassName: priority class system-node-critical is not allowed \(allowed: none\)/,
      { allowedPriorityClasses: ["system-node-critical"] },
    ],
    [
      "a ServiceAccount other than default",
      { serviceAccountName: "admin" },
      /spec\.serviceAccountName: ServiceAccount admin is not allowed \(allowed: default\)/,
      { allowedServiceAccounts: ["team-a/admin"] },
    ],
    [
      "the deprecated serviceAccount alias",
      { serviceAccount: "admin" },
      /spec\.serviceAccount: ServiceAccount admin/,
      { allowedServiceAccounts: ["admin"] },
    ],
    [
      "a Secret volume",
      { volumes: [{ name: "creds", secret: { secretName: "s" } }] },
      /spec\.volumes\[0\] \(creds\)\.secret: Secret volumes are forbidden/,
      { allowSecrets: true },
    ],
    [
      "a projected Secret",
      {
        volumes: [
          { name: "p", projected: { sources: [{ configMap: { name: "c" } }, { secret: { name: "s" } }] } },
        ],
      },
      /spec\.volumes\[0\] \(p\)\.projected\.sources\[1\]\.secret/,
      { allowSecrets: true },
    ],
    [
      "env from a Secret key",
      { containers: [secretEnv] },
      /spec\.containers\[0\] \(m\)\.env\[0\]\.valueFrom\.secretKeyRef/,
      { allowSecrets: true },
    ],
    [
      "envFrom a Secret",
      {
        containers: [{ name: "m", envFrom: [{ configMapRef: { name: "c" } }, { secretRef: { name: "s" } }] }],
      },
      /spec\.containers\[0\] \(m\)\.envFrom\[1\]\.secretRef/,
      { allowSecrets: true },
    ],
  ];
  it.each(refused)("refuses %s, naming the field", (_what, spec, field, allowedBy, annotations) => {
    const p = pod(spec as never);
    p.metadata = {
      ...p.metadata,
      namespace: "team-a",
      annotations: { ...p.metadata?.annotations, ...annotations },
    };
    const msg = checkPodPolicy(p, STRICT_POD_POLICY);
    expect(msg).toMatch(field);
    expect(msg?.split("; ")).toHaveLength(1);
    expect(checkPodPolicy(p, { ...STRICT_POD_POLICY, ...allowedBy })).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, Record<string, string>?]>([
    [
      "every baseline capability",
      { containers: [m({ capabilities: { add: [...BASELINE_CAPABILITIES], drop: ["ALL"] } })] },
    ],
    [
      "RuntimeDefault and Localhost profiles",
      {
        securityContext: {
          seccompProfile: { type: "RuntimeDefault" },
          appArmorProfile: { type: "Localhost", localhostProfile: "p" },
        },
      },
    ],
    ["procMount Default", { containers: [m({ procMount: "Default" })] }],
    [
      "an SELinux container type",
      { securityContext: { seLinuxOptions: { type: "container_init_t", level: "s0:c1" } } },
    ],
    [
      "safe sysctls",
      { securityContext: { sysctls: [{ name: "net.ipv4.ip_local_port_range", value: "1 2" }] } },
    ],
    [
      "the default ServiceAccount, with its token mount as the template says",
      { serviceAccountName: "default", automountServiceAccountToken: false },
    ],
    [
      "ConfigMap volumes and env, image pull Secrets",
      {
        volumes: [{ name: "c", configMap: { name: "c" } }],
        imagePullSecrets: [{ name: "r" }],
        containers: [{ name: "m", envFrom: [{ configMapRef: { name: "c" } }] }],
      },
    ],
    [
      "a runtime/default AppArmor annotation",
      {},
      { "container.apparmor.security.beta.kubernetes.io/main": "runtime/default" },
    ],
    ["an empty priority class", { priorityClassName: "" }],
  ])("allows %s", (_what, spec, annotations) => {
    const p = pod(spec as never);
    p.metadata = {
      ...p.metadata,
      namespace: "team-a",
      annotations: { ...p.metadata?.annotations, ...annotations },
    };
    expect(checkPodPolicy(p, STRICT_POD_POLICY)).toBeUndefined();
  });

  it("does not throw on lists of the wrong shape (the API server refuses such a Pod itself)", () => {
    const hostile = pod({
      securityContext: { sysctls: "kernel.msgmax" as never },
      volumes: [{ name: "p", projected: { sources: [null as never] } }],
      containers: [
        { name: "m", securityContext: { capabilities: { add: "SYS_ADMIN" as never } }, envFrom: {} as never },
      ],
    });
    expect(() => checkPodPolicy(hostile, STRICT_POD_POLICY)).not.toThrow();
    expect(checkPodPolicy(hostile, STRICT_POD_POLICY)).toBeUndefined();
  });

  it("reports hostProcess once whichever rule catches it", () => {
    const p = pod({ securityContext: { windowsOptions: { hostProcess: true } } });
    expect(checkPodPolicy(p, STRICT_POD_POLICY)?.split("; ")).toHaveLength(1);
    expect(checkPodPolicy(p, { ...STRICT_POD_POLICY, forbidHostNamespaces: false })).toMatch(
      /spec\.securityContext\.windowsOptions\.hostProcess/,
    );
  });

  it("reads its config: every key optional, quantities checked, unknown keys refused", () => {
    expect(PodPolicySchema.parse({})).toEqual({});
    expect(PodPolicySchema.parse({ runtimeClasses: { kata: { cpu: "250m" } } })).toEqual({
      runtimeClasses: { kata: { cpu: "250m" } },
    });
    expect(
      PodPolicySchema.safeParse({ runtimeClasses: { kata: { cpu: "lots" } } }).error?.issues[0],
    ).toMatchObject({
      path: ["runtimeClasses", "kata", "cpu"],
      message: "not a Kubernetes quantity",
    });
    expect(PodPolicySchema.safeParse({ forbidRoot: true }).success).toBe(false);
  });
});

describe("grantedPorts", () => {
  it("reads the resources annotation and tolerates garbage", () => {
    expect(grantedPorts(pod({}, [{ begin: 1, end: 2 }]))).toEqual([{ begin: 1, end: 2 }]);
    expect(grantedPorts({ metadata: { annotations: { [ANNOTATION_RESOURCES]: "{nope" } } })).toEqual([]);
    expect(
      grantedPorts({ metadata: { annotations: { [ANNOTATION_RESOURCES]: '{"ports":[{"begin":"x"}]}' } } }),
    ).toEqual([]);
    expect(grantedPorts({})).toEqual([]);
  });
});
