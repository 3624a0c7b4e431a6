// The cluster-level launch policy: what a task Pod may not do whatever its namespace's Pod
// Security level allows. Namespace Pod Security admission is enforced by the API server (its
// refusal becomes TASK_ERROR); this policy is the cluster administrator's floor on top of it,
// set in the controller's configuration: by default Pod Security "baseline" (pod-security-
// admission's checks, v1.34) plus allowlists of priority classes, ServiceAccounts and Secrets.
// Pure: a Pod in, a reason naming every offending field out.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import { ANNOTATION_RESOURCES } from "../crds/contract.ts";
import { isQuantity } from "../resources/quantity.ts";
import type { PortRange } from "../resources/types.ts";

export interface PodPolicy {
  /** Host ports only inside the port ranges the task was given from its offer. */
  forbidHostPortsOutsideOffer?: boolean;
  /** No hostNetwork, hostPID, hostIPC (nor Windows hostProcess containers). */
  forbidHostNamespaces?: boolean;
  /** No hostPath volumes. */
  forbidHostPath?: boolean;
  /** No privileged containers. */
  forbidPrivileged?: boolean;
  /**
   * Pod Security "baseline" beyond the rules above: no capabilities added beyond the baseline
   * set, no Unconfined seccomp or AppArmor profile, no Unmasked /proc, no SELinux user, role or
   * custom type, no unsafe sysctls.
   */
  enforceBaseline?: boolean;
  /** Priority classes a task Pod may name; a Pod that names none is always allowed. */
  allowedPriorityClasses?: string[];
  /**
   * ServiceAccounts a task Pod may run as besides its namespace's `default`: `name` (in any
   * namespace) or `namespace/name`. automountServiceAccountToken stays as the template says.
   */
  allowedServiceAccounts?: string[];
  /** Secret volumes, projected Secrets, env from Secrets (secretKeyRef, envFrom secretRef). */
  allowSecrets?: boolean;
  /**
   * RuntimeClasses a task Pod may name, each with the overhead its RuntimeClass adds to the Pod
   * (its `overhead.podFixed`): the launch plan counts it inside the task's resources and writes
   * it into the Pod, where RuntimeClass admission refuses it unless it is the RuntimeClass's. A
   * RuntimeClass not listed is refused there, as its overhead cannot be counted.
   */
  runtimeClasses?: Record<string, Record<string, string>>;
}

/** The config file's `podPolicy` (main.ts): every key optional, each default in STRICT_POD_POLICY. */
export const PodPolicySchema = z
  .object({
    forbidHostPortsOutsideOffer: z.boolean().optional(),
    forbidHostNamespaces: z.boolean().optional(),
    forbidHostPath: z.boolean().optional(),
    forbidPrivileged: z.boolean().optional(),
    enforceBaseline: z.boolean().optional(),
    allowedPriorityClasses: z.array(z.string()).optional(),
    allowedServiceAccounts: z.array(z.string()).optional(),
    allowSecrets: z.boolean().optional(),
    runtimeClasses: z
      .record(
        z.string(),
        z.record(
          z.string(),
          z.string().refine((q) => isQuantity(q), { message: "not a Kubernetes quantity" }),
        ),
      )
      .optional(),
  })
  .strict();

/** The default for a controller run from main.ts and the Helm chart: everything forbidden, Pod Security baseline, empty allowlists. */
export const STRICT_POD_POLICY: Required<PodPolicy> = {
  forbidHostPortsOutsideOffer: true,
  forbidHostNamespaces: true,
  forbidHostPath: true,
  forbidPrivileged: true,
  enforceBaseline: true,
  allowedPriorityClasses: [],
  allowedServiceAccounts: [],
  allowSecrets: false,
  runtimeClasses: {},
};

/** The capabilities Pod Security "baseline" lets a container add. */
export const BASELINE_CAPABILITIES: readonly string[] = [
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
];

/**
 * Pod Security "baseline"'s safe sysctls (pod-security-admission check_sysctls.go, v1.34). The
 * kubelet keeps its own list (src/local/kubelet-admission.ts models it); Kubernetes defines
 * the two apart, and so do we.
 */
export const BASELINE_SYSCTLS: readonly string[] = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
];

/** SELinux types baseline allows (user and role must be unset). */
const BASELINE_SELINUX_TYPES = [
  "",
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
];
/** The AppArmor annotation baseline checks (besides the appArmorProfile fields). */
const APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";

type Listed = { field: string; c: V1Container & { securityContext?: V1Container["securityContext"] } };

function containersOf(pod: V1Pod): Listed[] {
  const s = pod.spec;
  const out: Listed[] = [];
  for (const [kind, list] of [
    ["containers", s?.containers],
    ["initContainers", s?.initContainers],
    ["ephemeralContainers", s?.ephemeralContainers],
  ] as const) {
    for (const [i, c] of (list ?? []).entries())
      out.push({ field: `spec.${kind}[${i}]`, c: c as Listed["c"] });
  }
  return out;
}

/** The host ports granted to the task: its resources annotation, written by the launch plan. */
export function grantedPorts(pod: V1Pod): PortRange[] {
  const raw = pod.metadata?.annotations?.[ANNOTATION_RESOURCES];
  if (!raw) return [];
  try {
    const ports = (JSON.parse(raw) as { ports?: unknown }).ports;
    if (!Array.isArray(ports)) return [];
    return ports.filter(
      (p): p is PortRange =>
        typeof p === "object" &&
        p !== null &&
        Number.isInteger((p as PortRange).begin) &&
        Number.isInteger((p as PortRange).end),
    );
  } catch {
    // Fails closed: no port is granted, so every host port is refused and the violation
    // message (which ends the offer Invalid, on the offer) lists them. The launch plan writes
    // this annotation itself just before the check, so it does not happen in practice.
    return [];
  }
}

function fmtRanges(r: PortRange[]): string {
  return r.length
    ? r.map((p) => (p.begin === p.end ? `${p.begin}` : `${p.begin}-${p.end}`)).join(",")
    : "none";
}

/**
 * Checks a task Pod against the cluster's policy. Returns undefined when it may be created, or
 * a message naming every offending field. `allowedPorts` defaults to the ports the launch plan
 * granted the task (its kubeoffers.io/resources annotation).
 */
export function checkPodPolicy(
  pod: V1Pod,
  policy: PodPolicy | undefined,
  allowedPorts: PortRange[] = grantedPorts(pod),
): string | undefined {
  if (!policy) return undefined;
  const spec = pod.spec;
  const problems: string[] = [];
  if (policy.forbidHostNamespaces) {
    if (spec?.hostNetwork) problems.push("spec.hostNetwork: host network namespace is forbidden");
    if (spec?.hostPID) problems.push("spec.hostPID: host PID namespace is forbidden");
    if (spec?.hostIPC) problems.push("spec.hostIPC: host IPC namespace is forbidden");
    if (spec?.securityContext?.windowsOptions?.hostProcess)
      problems.push("spec.securityContext.windowsOptions.hostProcess: host process containers are forbidden");
  }
  if (policy.forbidHostPath) {
    for (const [i, v] of (spec?.volumes ?? []).entries()) {
      if (v.hostPath)
        problems.push(`spec.volumes[${i}] (${v.name}): hostPath volume ${v.hostPath.path} is forbidden`);
    }
  }
  for (const { field, c } of containersOf(pod)) {
    const sc = c.securityContext;
    if (policy.forbidPrivileged && sc?.privileged)
      problems.push(`${field} (${c.name}).securityContext.privileged: privileged containers are forbidden`);
    if (policy.forbidHostNamespaces && sc?.windowsOptions?.hostProcess)
      problems.push(
        `${field} (${c.name}).securityContext.windowsOptions.hostProcess: host process containers are forbidden`,
      );
    if (policy.forbidHostPortsOutsideOffer) {
      for (const [j, p] of (c.ports ?? []).entries()) {
        const hp = p.hostPort;
        if (!hp) continue;
        if (!allowedPorts.some((r) => hp >= r.begin && hp <= r.end))
          problems.push(
            `${field} (${c.name}).ports[${j}].hostPort: ${hp} is outside the ports offered to the task (${fmtRanges(allowedPorts)})`,
          );
      }
    }
  }
  if (policy.enforceBaseline) problems.push(...baselineProblems(pod, !policy.forbidHostNamespaces));
  problems.push(...allowlistProblems(pod, policy));
  return problems.length ? `forbidden by the cluster's pod policy: ${problems.join("; ")}` : undefined;
}

/**
 * The entries of a list in a template, which the CRD does not check (schemaless PodSpec): a
 * value that is not a list, or a null item, is skipped here and left to the API server's
 * validation (the Pod is refused: TASK_ERROR) rather than making the check throw.
 */
function listed<T>(x: readonly T[] | undefined): [number, NonNullable<T>][] {
  if (!Array.isArray(x)) return [];
  return [...x.entries()].filter((e): e is [number, NonNullable<T>] => e[1] !== null && e[1] !== undefined);
}

type SecurityContextLike = {
  seccompProfile?: { type?: string };
  appArmorProfile?: { type?: string };
  seLinuxOptions?: { user?: string; role?: string; type?: string };
};

function profileProblems(field: string, sc: SecurityContextLike | undefined): string[] {
  const out: string[] = [];
  if (sc?.seccompProfile?.type === "Unconfined")
    out.push(`${field}.seccompProfile.type: Unconfined seccomp is forbidden`);
  if (sc?.appArmorProfile?.type === "Unconfined")
    out.push(`${field}.appArmorProfile.type: Unconfined AppArmor is forbidden`);
  const se = sc?.seLinuxOptions;
  if (se?.user) out.push(`${field}.seLinuxOptions.user: setting an SELinux user is forbidden`);
  if (se?.role) out.push(`${field}.seLinuxOptions.role: setting an SELinux role is forbidden`);
  if (se?.type && !BASELINE_SELINUX_TYPES.includes(se.type))
    out.push(`${field}.seLinuxOptions.type: SELinux type ${se.type} is forbidden`);
  return out;
}

/** Pod Security "baseline" (the host namespace, hostPath, privileged and host port rules are the policy's own). */
function baselineProblems(pod: V1Pod, checkHostProcess: boolean): string[] {
  const spec = pod.spec;
  const out: string[] = profileProblems("spec.securityContext", spec?.securityContext);
  for (const [i, s] of listed(spec?.securityContext?.sysctls)) {
    if (!BASELINE_SYSCTLS.includes(s.name))
      out.push(`spec.securityContext.sysctls[${i}].name: sysctl ${s.name} is not a safe sysctl`);
  }
  if (checkHostProcess && spec?.securityContext?.windowsOptions?.hostProcess)
    out.push("spec.securityContext.windowsOptions.hostProcess: host process containers are forbidden");
  for (const [k, v] of Object.entries(pod.metadata?.annotations ?? {})) {
    if (k.startsWith(APPARMOR_ANNOTATION_PREFIX) && v !== "runtime/default" && !v.startsWith("localhost/"))
      out.push(`metadata.annotations["${k}"]: AppArmor profile ${v} is forbidden`);
  }
  for (const { field, c } of containersOf(pod)) {
    const sc = c.securityContext;
    const where = `${field} (${c.name}).securityContext`;
    for (const [j, cap] of listed(sc?.capabilities?.add)) {
      if (!BASELINE_CAPABILITIES.includes(cap))
        out.push(`${where}.capabilities.add[${j}]: capability ${cap} is beyond the baseline set`);
    }
    if (sc?.procMount !== undefined && sc.procMount !== "Default")
      out.push(`${where}.procMount: ${sc.procMount} /proc is forbidden`);
    if (checkHostProcess && sc?.windowsOptions?.hostProcess)
      out.push(`${where}.windowsOptions.hostProcess: host process containers are forbidden`);
    out.push(...profileProblems(where, sc));
  }
  return out;
}

/** Priority classes, ServiceAccounts and Secrets: only what the policy lists (RuntimeClasses: the launch plan, which counts their overhead). */
function allowlistProblems(pod: V1Pod, policy: PodPolicy): string[] {
  const spec = pod.spec;
  const out: string[] = [];
  const list = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(", ") : "none");
  if (policy.allowedPriorityClasses) {
    const pc = spec?.priorityClassName;
    if (pc && !policy.allowedPriorityClasses.includes(pc))
      out.push(
        `spec.priorityClassName: priority class ${pc} is not allowed (allowed: ${list(policy.allowedPriorityClasses)})`,
      );
  }
  if (policy.allowedServiceAccounts) {
    const ns = pod.metadata?.namespace ?? "";
    const allowed = policy.allowedServiceAccounts;
    // serviceAccount is the deprecated alias the API server still honours.
    for (const field of ["serviceAccountName", "serviceAccount"] as const) {
      const sa = spec?.[field];
      if (sa && sa !== "default" && !allowed.includes(sa) && !allowed.includes(`${ns}/${sa}`))
        out.push(
          `spec.${field}: ServiceAccount ${sa} is not allowed (allowed: default${allowed.length ? `, ${allowed.join(", ")}` : ""})`,
        );
    }
  }
  if (policy.allowSecrets === false) {
    for (const [i, v] of (spec?.volumes ?? []).entries()) {
      if (v.secret) out.push(`spec.volumes[${i}] (${v.name}).secret: Secret volumes are forbidden`);
      for (const [j, src] of listed(v.projected?.sources)) {
        if (src.secret)
          out.push(
            `spec.volumes[${i}] (${v.name}).projected.sources[${j}].secret: projected Secrets are forbidden`,
          );
      }
    }
    for (const { field, c } of containersOf(pod)) {
      for (const [j, e] of (c.env ?? []).entries()) {
        if (e.valueFrom?.secretKeyRef)
          out.push(`${field} (${c.name}).env[${j}].valueFrom.secretKeyRef: env from Secrets is forbidden`);
      }
      for (const [j, e] of listed(c.envFrom)) {
        if (e.secretRef)
          out.push(`${field} (${c.name}).envFrom[${j}].secretRef: env from Secrets is forbidden`);
      }
    }
  }
  return out;
}
