// node examples/gang/main.ts --namespace demo --size 4 --cpu 2 --memory 1Gi
import { num, onDoneOption, parseOptions, runMain, secondsRange } from "../lib/runtime.ts";
import { GangFramework } from "./gang.ts";

const usage = `gang: launch all M tasks of a group at once, or none of them.

usage: node examples/gang/main.ts [options]
  --size M              members of the group (default 4)
  --cpu Q, --memory Q   size of each member (default 1, 512Mi)
  --hold-seconds N      hold offers this long waiting for enough of them, then decline (default 10)
  --refuse-seconds N    refuse filter on declined offers (default 1)
  --generations N       attempts at running the whole group (default 3)
  --colocate            one Pod on one agent for the whole group (launchGroup)
  --image IMAGE, --shell CMD   what each member runs
  --run-seconds S|A-B   on simulated nodes: how long each member runs (default 5)
  --on-done stop|idle   exit when the group finished (default), or stay registered and idle`;

const { common, task, values } = parseOptions(process.argv.slice(2), {
  name: "gang",
  usage,
  taskSize: { cpu: "1", memory: "512Mi" },
  options: {
    size: { type: "string" },
    "hold-seconds": { type: "string" },
    "refuse-seconds": { type: "string" },
    generations: { type: "string" },
    colocate: { type: "boolean" },
    "run-seconds": { type: "string" },
    "on-done": { type: "string" },
  },
});
const onDone = onDoneOption(values["on-done"]);

const gang = new GangFramework({
  ...common,
  ...task,
  size: num(values.size, 4, "--size"),
  holdSeconds: num(values["hold-seconds"], 10, "--hold-seconds"),
  refuseSeconds: num(values["refuse-seconds"], 1, "--refuse-seconds"),
  maxGenerations: num(values.generations, 3, "--generations"),
  colocate: values.colocate === true,
  runSeconds: secondsRange(values["run-seconds"], "5"),
  onDone,
});

await runMain({
  run: async () => {
    const code = await gang.run();
    const s = gang.status();
    process.stdout.write(`gang ${common.name}: generation ${s.generation} ${s.phase}\n`);
    return code;
  },
  stop: () => gang.stop(),
});
