// bench:e2e's kube-offers frameworks, in their own process as a framework's scheduler runs in
// its own Pod: FRAMEWORKS batch frameworks (examples/batch, which packs each offer with as many
// tasks as fit) named f<i> in NAMESPACE, sharing TASKS tasks of CPU / MEMORY that run
// RUN_SECONDS each on the simulated nodes. Prints "ready" once loaded; registers and runs on
// SIGUSR2 (the bench's start signal, so process start-up is not counted), prints "done" and each
// batch's progress when every task finished; tears the frameworks down on SIGTERM.
import { KubeConfig } from "@kubernetes/client-node";
import { BatchFramework } from "../../examples/batch/batch.ts";

const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG ?? "");
const count = Number(process.env.FRAMEWORKS ?? 1);
const tasks = Number(process.env.TASKS);
const runSeconds = Number(process.env.RUN_SECONDS ?? 3);
const frameworks = Array.from(
  { length: count },
  (_, i) =>
    new BatchFramework({
      kubeConfig: kc,
      namespace: process.env.NAMESPACE ?? "default",
      name: `f${i}`,
      // An even share; the first ones take the remainder.
      tasks: Math.floor(tasks / count) + (i < tasks % count ? 1 : 0),
      cpu: process.env.CPU ?? "500m",
      memory: process.env.MEMORY ?? "256Mi",
      maxAttempts: 1,
      runSeconds: () => runSeconds,
      log: (level, msg, fields) => {
        if (level === "warn" || level === "error")
          process.stderr.write(`f${i} ${level}: ${msg} ${fields ? JSON.stringify(fields) : ""}\n`);
      },
    }),
);
process.once("SIGUSR2", () => {
  void Promise.all(frameworks.map((f) => f.run())).then(
    (codes) =>
      process.stdout.write(
        `done ${JSON.stringify({ codes, progress: frameworks.map((f) => f.progress()) })}\n`,
      ),
    (err: unknown) => {
      process.stderr.write(`frameworks failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
});
process.once("SIGTERM", () => {
  void Promise.allSettled(frameworks.map((f) => f.stop({ teardown: true }))).then((rs) => {
    for (const r of rs)
      if (r.status === "rejected") process.stderr.write(`teardown failed: ${String(r.reason)}\n`);
    process.exit(0);
  });
});
process.stdout.write(`ready ${count} framework(s), ${tasks} tasks\n`);
