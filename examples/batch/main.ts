// node examples/batch/main.ts --namespace demo --tasks 20 --cpu 500m --memory 256Mi
import { fail, num, onDoneOption, parseOptions, runMain, secondsRange } from "../lib/runtime.ts";
import { BatchFramework } from "./batch.ts";

const usage = `batch: run N tasks to completion, retrying failed ones.

usage: node examples/batch/main.ts [options]
  --tasks N             tasks to run (default 10)
  --cpu Q, --memory Q   size of each task (default 500m, 256Mi)
  --retries N           retries per task after a failure (default 3)
  --image IMAGE         container image (default busybox:1.35)
  --shell CMD           command line each task runs (sh -c)
  --run-seconds S|A-B   on simulated nodes: how long each task runs (default 3)
  --fail I[:K]          on simulated nodes: task I fails its first K attempts (default 1); repeatable
  --fail-rate P         on simulated nodes: each attempt fails with probability P
  --on-done stop|idle   exit when done (default), or stay registered and idle (for a Deployment)
  --teardown            delete the Framework when done (its Pods go with it)`;

const { common, task, values } = parseOptions(process.argv.slice(2), {
  name: "batch",
  usage,
  taskSize: { cpu: "500m", memory: "256Mi" },
  options: {
    tasks: { type: "string" },
    retries: { type: "string" },
    "run-seconds": { type: "string" },
    fail: { type: "string", multiple: true },
    "fail-rate": { type: "string" },
    "on-done": { type: "string" },
    teardown: { type: "boolean" },
  },
});

const failFirst = new Map<number, number>();
for (const f of (values.fail as string[] | undefined) ?? []) {
  const [i, k] = f.split(":");
  if (!/^\d+$/.test(i ?? "") || (k !== undefined && !/^\d+$/.test(k)))
    fail(`--fail ${f}: expected INDEX[:ATTEMPTS]`);
  failFirst.set(Number(i), k === undefined ? 1 : Number(k));
}
const onDone = onDoneOption(values["on-done"]);

const batch = new BatchFramework({
  ...common,
  ...task,
  tasks: num(values.tasks, 10, "--tasks"),
  maxAttempts: num(values.retries, 3, "--retries") + 1,
  runSeconds: secondsRange(values["run-seconds"], "3"),
  failFirst,
  ...(values["fail-rate"] !== undefined ? { failRate: num(values["fail-rate"], 0, "--fail-rate") } : {}),
  onDone,
});

await runMain({
  run: async () => {
    const code = await batch.run();
    const p = batch.progress();
    process.stdout.write(
      `batch ${common.name}: ${p.finished}/${p.total} finished, ${p.failedAttempts} failed attempt(s) retried, ${p.gaveUp} gave up\n`,
    );
    if (values.teardown) await batch.stop({ teardown: true });
    return code;
  },
  stop: () => batch.stop(),
});
