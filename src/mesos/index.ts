// The Mesos v1 Scheduler HTTP API of kube-offers: `startMesosApi(options)` serves it on a port
// of its own; `MesosConfigSchema` is the `mesos:` section of the controller's config file.
import type { KubeConfig } from "@kubernetes/client-node";
import { z } from "zod";
import { LABEL_POOL, poolSelector } from "../crds/contract.ts";
import { type MesosApi, startMesosApi } from "./server.ts";

export type { MesosAuthentication } from "./auth.ts";
export { RecordIoDecoder, recordio } from "./protocol.ts";
export { type MesosApi, type MesosApiOptions, startMesosApi } from "./server.ts";

export const MesosConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe("Serve the Mesos API (default: off)."),
    port: z.int().min(0).max(65535).default(5050),
    host: z.string().default("0.0.0.0"),
    namespaces: z
      .record(z.string(), z.string())
      .default({})
      .describe("Principal -> namespace where its frameworks live."),
    defaultNamespace: z
      .string()
      .optional()
      .describe("Namespace for principals not listed; unset: they are refused."),
    authentication: z
      .object({
        basic: z.record(z.string(), z.string()).optional().describe("user (principal) -> password"),
        bearer: z.record(z.string(), z.string()).optional().describe("token -> principal"),
      })
      .strict()
      .optional(),
    frameworkLabels: z.record(z.string(), z.string()).optional(),
    agentSelector: z.string().optional(),
    defaultImage: z.string().optional(),
    heartbeatIntervalSeconds: z.number().positive().optional(),
    updateRetrySeconds: z.number().positive().optional(),
    maxBodyBytes: z.int().positive().optional(),
    leaseSeconds: z.int().min(2).optional(),
    advertisedHostname: z.string().optional(),
  })
  .strict();
export type MesosConfig = z.infer<typeof MesosConfigSchema>;

/**
 * Starts the API from the controller's config (`mesos:` section), or returns undefined when it
 * is disabled. Frameworks it registers carry the operator's pool label; the state endpoints
 * list the pool's agents.
 */
export async function startMesosFromConfig(
  config: MesosConfig | undefined,
  ctx: {
    kubeConfig: KubeConfig;
    pool?: string | undefined;
    log: { [L in "debug" | "info" | "warn" | "error"]: (fields: object, msg: string) => void };
  },
): Promise<MesosApi | undefined> {
  if (!config?.enabled) return undefined;
  const { enabled: _enabled, ...rest } = config;
  const poolLabels: Record<string, string> = ctx.pool ? { [LABEL_POOL]: ctx.pool } : {};
  return startMesosApi({
    ...rest,
    kubeConfig: ctx.kubeConfig,
    frameworkLabels: { ...poolLabels, ...(config.frameworkLabels ?? {}) },
    agentSelector: config.agentSelector ?? poolSelector(ctx.pool),
    log: (level, msg, fields) => ctx.log[level]({ component: "mesos-api", ...(fields ?? {}) }, msg),
  });
}
