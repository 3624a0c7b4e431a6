// node examples/service/main.ts --namespace demo --instances 3 --spread-by rack
import { num, parseOptions, runMain } from "../lib/runtime.ts";
import { ServiceFramework } from "./service.ts";

const usage = `service: keep N instances running, spread over agents by an attribute; replace lost ones.

usage: node examples/service/main.ts [options]
  --instances N          instances to keep running (default 3)
  --cpu Q, --memory Q    size of each instance (default 500m, 512Mi)
  --ports N              host ports per instance, from the offer (default 1)
  --spread-by ATTR       at most --max-per-value instances per value of this agent attribute
                         (default rack; "" to not spread)
  --max-per-value N      (default 1)
  --image IMAGE          container image (default busybox:1.35)
  --shell CMD            command line each instance runs (sh -c)
  --unreachable-seconds N  replace an instance whose node is unreachable after N s (default 0)`;

const { common, task, values } = parseOptions(process.argv.slice(2), {
  name: "service",
  usage,
  taskSize: { cpu: "500m", memory: "512Mi" },
  options: {
    instances: { type: "string" },
    ports: { type: "string" },
    "spread-by": { type: "string" },
    "max-per-value": { type: "string" },
    "unreachable-seconds": { type: "string" },
  },
});

const service = new ServiceFramework({
  ...common,
  ...task,
  instances: num(values.instances, 3, "--instances"),
  ports: num(values.ports, 1, "--ports"),
  spreadBy: (values["spread-by"] as string | undefined) ?? "rack",
  maxPerValue: num(values["max-per-value"], 1, "--max-per-value"),
  unreachableSeconds: num(values["unreachable-seconds"], 0, "--unreachable-seconds"),
});

await runMain({ run: () => service.run(), stop: () => service.stop() });
