// The Mesos v1 HTTP APIs of kube-offers — the scheduler API, the operator API (POST /api/v1) and
// the master endpoints Mesos's tools read: `startMesosApi(options)` serves them on a port of
// their own; `MesosConfigSchema` is the `mesos:` section of the controller's config file.
import type { KubeConfig } from "@kubernetes/client-node";
import { z } from "zod";
import { LABEL_POOL, poolSelector } from "../crds/contract.ts";
import { credentialsCheck } from "./auth.ts";
import { MESOS_LIMIT_DEFAULTS as D } from "./limits.ts";
import { type MesosApi, startMesosApi } from "./server.ts";

export type { MesosAuthentication } from "./auth.ts";
export { MESOS_LIMIT_DEFAULTS, type MesosLimits } from "./limits.ts";
export { RecordIoDecoder, recordio } from "./recordio.ts";
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
      .optional()
      .describe("With credentials every request must authenticate."),
    allowUnauthenticated: z
      .boolean()
      .optional()
      .describe("Serve without credentials, trusting FrameworkInfo.principal: must be set to do so."),
    frameworkLabels: z.record(z.string(), z.string()).optional(),
    agentSelector: z.string().optional(),
    defaultImage: z.string().optional(),
    heartbeatIntervalSeconds: z.number().positive().optional(),
    updateRetrySeconds: z.number().positive().optional(),
    maxBodyBytes: z
      .int()
      .positive()
      .optional()
      .describe(`Largest request body, 413 above (${D.maxBodyBytes}).`),
    maxInflightBodyBytes: z
      .int()
      .positive()
      .optional()
      .describe(`Request body bytes being read at once, all clients; 503 above (${D.maxInflightBodyBytes}).`),
    maxConnectionsPerPrincipal: z
      .int()
      .positive()
      .optional()
      .describe(
        `Open connections per principal (address without authentication); 429 above (${D.maxConnectionsPerPrincipal}).`,
      ),
    maxSubscriptionsPerPrincipal: z
      .int()
      .positive()
      .optional()
      .describe(`SUBSCRIBE streams per principal; 429 above (${D.maxSubscriptionsPerPrincipal}).`),
    requestsPerSecondPerPrincipal: z
      .number()
      .positive()
      .optional()
      .describe(
        `Sustained requests per second per principal; 429 above (${D.requestsPerSecondPerPrincipal}).`,
      ),
    requestBurstPerPrincipal: z
      .int()
      .positive()
      .optional()
      .describe(`Requests at once above the rate (${D.requestBurstPerPrincipal}).`),
    headersTimeoutSeconds: z
      .number()
      .positive()
      .optional()
      .describe(`Request headers must arrive within this; 408 (${D.headersTimeoutSeconds}).`),
    requestTimeoutSeconds: z
      .number()
      .positive()
      .optional()
      .describe(
        `A request body must arrive within this after its headers; 408 (${D.requestTimeoutSeconds}).`,
      ),
    leaseSeconds: z.int().min(2).optional(),
    advertisedHostname: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // No credentials is a choice to be written down, not what an omission means.
    const refused = c.enabled ? credentialsCheck(c.authentication, c.allowUnauthenticated) : undefined;
    if (refused) ctx.addIssue({ code: "custom", path: ["allowUnauthenticated"], message: refused });
  });
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
