// Writes the chart's templates/flowschema.yaml from src/crds/flowcontrol.ts: `npm run gen:flowschema`.
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { flowSchemaTemplate } from "./flowcontrol.ts";

export const FLOWSCHEMA_TEMPLATE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../deploy/helm/kube-offers/templates/flowschema.yaml",
);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(FLOWSCHEMA_TEMPLATE, flowSchemaTemplate());
  process.stdout.write(`wrote ${FLOWSCHEMA_TEMPLATE}\n`);
}
