// The images built here and the refs the chart, the examples' deploy.yaml, containerd's
// sandbox_image and the default task image name them by.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_TASK_IMAGE } from "../crds/contract.ts";
import { repoRoot } from "./binaries.ts";

const VERSION: string = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version;

/** The operator image (controller and agent); the Helm chart's default image. */
export const KUBE_OFFERS_IMAGE = `ghcr.io/kube-offers/kube-offers:${VERSION}`;
/** The example frameworks on top of the operator image (examples/*\/deploy.yaml). */
export const EXAMPLES_IMAGE = `ghcr.io/kube-offers/kube-offers-examples:${VERSION}`;
/** Debian's static busybox, under the name test Pods use. */
export const BUSYBOX_IMAGE = `docker.io/library/${DEFAULT_TASK_IMAGE}`;
/** A tiny pause image for containerd's sandbox_image. */
export const PAUSE_IMAGE = `kube-offers.local/pause:${VERSION}`;

export const IMAGE_REFS = {
  "kube-offers": KUBE_OFFERS_IMAGE,
  "kube-offers-examples": EXAMPLES_IMAGE,
  busybox: BUSYBOX_IMAGE,
  pause: PAUSE_IMAGE,
} as const;
export type ImageName = keyof typeof IMAGE_REFS;
export const IMAGE_NAMES = Object.keys(IMAGE_REFS) as ImageName[];
