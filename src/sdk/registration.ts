// The Framework object: register (create it, or bring an existing one up to date), replace the
// registration (Mesos UPDATE_FRAMEWORK), suppress and revive roles, and delete it (TEARDOWN).
// Every change is a read-modify-write conditional on the resourceVersion that was read.
import { ANNOTATION_REVIVE, GROUP, PLURAL, VERSION } from "../crds/contract.ts";
import type { Framework, FrameworkSpecInput } from "../crds/framework.ts";
import { apiMessage, isNotFound, statusCode } from "../kube/errors.ts";
import { mergePatch } from "../kube/patch.ts";
import { type ClientContext, conflictOrTransient } from "./context.ts";
import { ApiError, FrameworkTerminatingError, InvalidLaunchError, KubeOffersError } from "./errors.ts";
import { retry } from "./retry.ts";

/** The Framework spec a scheduler registers; liveness is managed by the client. */
export type FrameworkRegistration = Omit<FrameworkSpecInput, "liveness">;

export interface RegistrationOptions {
  framework?: FrameworkRegistration | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  /** The liveness Lease to name in spec.liveness; undefined: none (an earlier one is removed). */
  leaseName: string | undefined;
}

type Patch = { annotations?: Record<string, string>; spec: Record<string, unknown> };

/** How many times in all a write is tried while it keeps conflicting (registration: once more). */
const WRITE_ATTEMPTS = 10;

export class Registration {
  /** Set when the Framework was seen deleted; cleared by the next registration. */
  gone = false;
  private readonly ctx: ClientContext;
  private readonly labels: Record<string, string>;
  private readonly leaseName: string | undefined;
  private framework: FrameworkRegistration;
  private annotations: Record<string, string>;

  constructor(ctx: ClientContext, opts: RegistrationOptions) {
    this.ctx = ctx;
    this.labels = opts.labels ?? {};
    this.leaseName = opts.leaseName;
    this.framework = opts.framework ?? {};
    this.annotations = opts.annotations ?? {};
  }

  private get ids() {
    return this.ctx.api.custom(PLURAL.framework);
  }

  private spec(forPatch: boolean): Record<string, unknown> {
    const spec: Record<string, unknown> = { suppressedRoles: [], ...this.framework };
    if (this.leaseName) spec.liveness = { leaseName: this.leaseName };
    else if (forPatch) spec.liveness = null; // merge patch: remove a Lease an earlier run configured
    return spec;
  }

  /** Creates the Framework, or updates labels, annotations and spec of the one there. */
  async register(): Promise<void> {
    const { api, name, namespace, log } = this.ctx;
    const where = `${namespace}/${name}`;
    let reading = true;
    try {
      await retry(
        async () => {
          reading = true;
          const existing = await this.read().catch((err: unknown) => {
            if (isNotFound(err)) return undefined;
            throw err;
          });
          reading = false;
          if (existing?.metadata.deletionTimestamp) throw new FrameworkTerminatingError(namespace, name);
          const metadata = { labels: this.labels, annotations: this.annotations };
          if (!existing) {
            await api.co.createNamespacedCustomObject({
              ...this.ids,
              body: {
                apiVersion: `${GROUP}/${VERSION}`,
                kind: "Framework",
                metadata: { name, namespace, ...metadata },
                spec: this.spec(false),
              },
            });
            log("info", "Framework registered", { framework: name, namespace });
          } else {
            await api.co.patchNamespacedCustomObject(
              {
                ...this.ids,
                name,
                body: {
                  metadata: { ...metadata, resourceVersion: existing.metadata.resourceVersion },
                  spec: this.spec(true),
                },
              },
              mergePatch,
            );
            log("info", "Framework re-registered", { framework: name, namespace });
          }
        },
        api.policy(conflictOrTransient(WRITE_ATTEMPTS + 1)),
      );
    } catch (err) {
      if (err instanceof KubeOffersError) throw err;
      if (reading) throw new ApiError(`get Framework ${where}`, err);
      if (statusCode(err) === 422)
        throw new InvalidLaunchError(`the API server rejected Framework ${where}: ${apiMessage(err)}`);
      throw new ApiError(`register Framework ${where}`, err);
    }
    this.gone = false;
  }

  /**
   * Replaces the registration (Mesos UPDATE_FRAMEWORK): spec fields it leaves out are removed;
   * annotations are merged. Later registrations use the new one too.
   */
  async update(framework: FrameworkRegistration, annotations?: Record<string, string>): Promise<void> {
    const { name, namespace } = this.ctx;
    this.framework = framework;
    if (annotations) this.annotations = { ...this.annotations, ...annotations };
    await this.write(
      "update Framework",
      (fw) => {
        const spec = this.spec(true);
        for (const k of Object.keys(fw.spec ?? {})) if (!(k in spec)) spec[k] = null;
        return { ...(annotations ? { annotations } : {}), spec };
      },
      (err) =>
        statusCode(err) === 422
          ? new InvalidLaunchError(
              `the API server rejected the update of Framework ${namespace}/${name}: ${apiMessage(err)}`,
            )
          : undefined,
    );
    this.ctx.log("info", "Framework updated", { framework: name });
  }

  /** Adds roles to (suppress) or removes them from (revive) spec.suppressedRoles; none: all roles. */
  async setSuppressed(roles: string[], suppress: boolean): Promise<void> {
    let which: string[] = [];
    const wrote = await this.write(`${suppress ? "suppress" : "revive"} roles of Framework`, (fw) => {
      const all = fw.spec.roles ?? ["*"];
      which = roles.length ? roles : all;
      const unknown = which.filter((r) => !all.includes(r));
      if (unknown.length)
        throw new InvalidLaunchError(
          `role(s) ${unknown.join(", ")} are not among the framework's roles (${all.join(", ")})`,
        );
      const cur = new Set(fw.spec.suppressedRoles ?? []);
      const next = new Set(cur);
      for (const r of which) {
        if (suppress) next.add(r);
        else next.delete(r);
      }
      if (suppress && next.size === cur.size && [...next].every((r) => cur.has(r))) return undefined;
      return {
        // A revive always writes: bumping the annotation clears the decline filters.
        ...(suppress ? {} : { annotations: { [ANNOTATION_REVIVE]: new Date().toISOString() } }),
        spec: { suppressedRoles: all.filter((r) => next.has(r)) },
      };
    });
    if (wrote) this.ctx.log("info", suppress ? "suppressed" : "revived", { roles: which });
  }

  /** Deletes the Framework (Mesos TEARDOWN); one already gone is fine. */
  async delete(): Promise<void> {
    const { api, name, namespace } = this.ctx;
    await api
      .request(`delete Framework ${namespace}/${name}`, () =>
        api.co.deleteNamespacedCustomObject({ ...this.ids, name }),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      });
  }

  private async read(): Promise<Framework> {
    return (await this.ctx.api.co.getNamespacedCustomObject({
      ...this.ids,
      name: this.ctx.name,
    })) as Framework;
  }

  /**
   * Read-modify-write of the Framework. `change` returns the merge patch, or undefined when
   * nothing needs writing; `refuse` may turn a write error into a clearer one. True when it wrote.
   */
  private async write(
    what: string,
    change: (fw: Framework) => Patch | undefined,
    refuse: (err: unknown) => Error | undefined = () => undefined,
  ): Promise<boolean> {
    const { api, name } = this.ctx;
    let reading = true;
    try {
      return await retry(
        async () => {
          reading = true;
          const fw = await this.read();
          reading = false;
          const patch = change(fw);
          if (!patch) return false;
          const metadata = {
            resourceVersion: fw.metadata.resourceVersion,
            ...(patch.annotations ? { annotations: patch.annotations } : {}),
          };
          await api.co.patchNamespacedCustomObject(
            { ...this.ids, name, body: { metadata, spec: patch.spec } },
            mergePatch,
          );
          return true;
        },
        api.policy(conflictOrTransient(WRITE_ATTEMPTS)),
      );
    } catch (err) {
      if (err instanceof KubeOffersError) throw err;
      if (reading) throw new ApiError(`get Framework ${name}`, err);
      throw refuse(err) ?? new ApiError(`${what} ${name}`, err);
    }
  }
}
