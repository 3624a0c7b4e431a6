import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ANNOTATION_RESOURCES } from "../crds/contract.ts";
import { checkPodPolicy, grantedPorts, STRICT_POD_POLICY } from "./pod-policy.ts";

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
    expect(
      checkPodPolicy(pod(spec as never), { ...STRICT_POD_POLICY, forbidHostNamespaces: false }),
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
