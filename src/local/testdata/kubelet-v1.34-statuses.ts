// Pod statuses a real kubelet v1.34.4 (containerd 1.6) wrote, recorded from test/e2e runs of
// the real node: what the simulator's status builders are compared with.
// Over 400 lines on purpose: recorded data, kept as the kubelet wrote it (its repeats included).

export const rejected = {
  message:
    "Pod was rejected: Node didn't have enough resource: cpu, requested: 64000, used: 0, capacity: 2000",
  observedGeneration: 1,
  phase: "Failed",
  qosClass: "Burstable",
  reason: "OutOfcpu",
  startTime: "2026-12-01T20:21:57.000Z",
};

export const pending = {
  conditions: [
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      status: "False",
      type: "PodReadyToStartContainers",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      status: "True",
      type: "Initialized",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      message: "containers with unready status: [main]",
      observedGeneration: 1,
      reason: "ContainersNotReady",
      status: "False",
      type: "Ready",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      message: "containers with unready status: [main]",
      observedGeneration: 1,
      reason: "ContainersNotReady",
      status: "False",
      type: "ContainersReady",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodScheduled",
    },
  ],
  containerStatuses: [
    {
      image: "busybox:1.35",
      imageID: "",
      lastState: {},
      name: "main",
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        waiting: {
          reason: "ContainerCreating",
        },
      },
    },
  ],
  hostIP: "198.18.20.10",
  hostIPs: [
    {
      ip: "198.18.20.10",
    },
  ],
  observedGeneration: 1,
  phase: "Pending",
  qosClass: "BestEffort",
  startTime: "2026-12-01T20:21:57.000Z",
};

export const running = {
  conditions: [
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:11.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodReadyToStartContainers",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:08.000Z",
      observedGeneration: 1,
      status: "True",
      type: "Initialized",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:11.000Z",
      observedGeneration: 1,
      status: "True",
      type: "Ready",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:11.000Z",
      observedGeneration: 1,
      status: "True",
      type: "ContainersReady",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:08.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodScheduled",
    },
  ],
  containerStatuses: [
    {
      allocatedResources: {
        cpu: "10m",
        memory: "8Mi",
      },
      containerID: "containerd://71498c03a4b4163cb4161943c080acf9b28aa54cf6756521f993cd2c3f9e3cee",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "main",
      ready: true,
      resources: {
        limits: {
          memory: "16Mi",
        },
        requests: {
          cpu: "10m",
          memory: "8Mi",
        },
      },
      restartCount: 0,
      started: true,
      state: {
        running: {
          startedAt: "2026-12-01T20:25:10.000Z",
        },
      },
      volumeMounts: [
        {
          mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
          name: "kube-api-access-27g58",
          readOnly: true,
          recursiveReadOnly: "Disabled",
        },
      ],
    },
  ],
  hostIP: "198.18.45.10",
  hostIPs: [
    {
      ip: "198.18.45.10",
    },
  ],
  observedGeneration: 1,
  phase: "Running",
  podIP: "10.88.0.11",
  podIPs: [
    {
      ip: "10.88.0.11",
    },
  ],
  qosClass: "Burstable",
  startTime: "2026-12-01T20:25:08.000Z",
};

export const succeeded = {
  conditions: [
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:16.000Z",
      observedGeneration: 1,
      status: "False",
      type: "PodReadyToStartContainers",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:08.000Z",
      observedGeneration: 1,
      reason: "PodCompleted",
      status: "True",
      type: "Initialized",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:15.000Z",
      observedGeneration: 1,
      reason: "PodCompleted",
      status: "False",
      type: "Ready",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:15.000Z",
      observedGeneration: 1,
      reason: "PodCompleted",
      status: "False",
      type: "ContainersReady",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:25:08.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodScheduled",
    },
  ],
  containerStatuses: [
    {
      allocatedResources: {
        cpu: "10m",
        memory: "8Mi",
      },
      containerID: "containerd://71498c03a4b4163cb4161943c080acf9b28aa54cf6756521f993cd2c3f9e3cee",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "main",
      ready: false,
      resources: {
        limits: {
          memory: "16Mi",
        },
        requests: {
          cpu: "10m",
          memory: "8Mi",
        },
      },
      restartCount: 0,
      started: false,
      state: {
        terminated: {
          containerID: "containerd://71498c03a4b4163cb4161943c080acf9b28aa54cf6756521f993cd2c3f9e3cee",
          exitCode: 0,
          finishedAt: "2026-12-01T20:25:14.000Z",
          reason: "Completed",
          startedAt: "2026-12-01T20:25:10.000Z",
        },
      },
      volumeMounts: [
        {
          mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
          name: "kube-api-access-27g58",
          readOnly: true,
          recursiveReadOnly: "Disabled",
        },
      ],
    },
  ],
  hostIP: "198.18.45.10",
  hostIPs: [
    {
      ip: "198.18.45.10",
    },
  ],
  observedGeneration: 1,
  phase: "Succeeded",
  podIP: "10.88.0.11",
  podIPs: [
    {
      ip: "10.88.0.11",
    },
  ],
  qosClass: "Burstable",
  startTime: "2026-12-01T20:25:08.000Z",
};

export const failed = {
  conditions: [
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:22:00.000Z",
      observedGeneration: 1,
      status: "False",
      type: "PodReadyToStartContainers",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      status: "True",
      type: "Initialized",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      reason: "PodFailed",
      status: "False",
      type: "Ready",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      reason: "PodFailed",
      status: "False",
      type: "ContainersReady",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:21:57.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodScheduled",
    },
  ],
  containerStatuses: [
    {
      containerID: "containerd://5e25254bb672224c005d85744d61207c920e9c3095d8c42b12aef26450387d2a",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "main",
      ready: false,
      resources: {},
      restartCount: 0,
      started: false,
      state: {
        terminated: {
          containerID: "containerd://5e25254bb672224c005d85744d61207c920e9c3095d8c42b12aef26450387d2a",
          exitCode: 3,
          finishedAt: "2026-12-01T20:21:58.000Z",
          reason: "Error",
          startedAt: "2026-12-01T20:21:58.000Z",
        },
      },
    },
  ],
  hostIP: "198.18.20.10",
  hostIPs: [
    {
      ip: "198.18.20.10",
    },
  ],
  observedGeneration: 1,
  phase: "Failed",
  podIP: "10.88.0.3",
  podIPs: [
    {
      ip: "10.88.0.3",
    },
  ],
  qosClass: "BestEffort",
  startTime: "2026-12-01T20:21:57.000Z",
};

export const initPending = {
  conditions: [
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:13.000Z",
      observedGeneration: 1,
      status: "False",
      type: "PodReadyToStartContainers",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:13.000Z",
      message: "containers with incomplete status: [init side]",
      observedGeneration: 1,
      reason: "ContainersNotInitialized",
      status: "False",
      type: "Initialized",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:13.000Z",
      message: "containers with unready status: [side a b]",
      observedGeneration: 1,
      reason: "ContainersNotReady",
      status: "False",
      type: "Ready",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:13.000Z",
      message: "containers with unready status: [side a b]",
      observedGeneration: 1,
      reason: "ContainersNotReady",
      status: "False",
      type: "ContainersReady",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:13.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodScheduled",
    },
  ],
  containerStatuses: [
    {
      image: "busybox:1.35",
      imageID: "",
      lastState: {},
      name: "a",
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        waiting: {
          reason: "PodInitializing",
        },
      },
    },
    {
      image: "busybox:1.35",
      imageID: "",
      lastState: {},
      name: "b",
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        waiting: {
          reason: "PodInitializing",
        },
      },
    },
  ],
  hostIP: "198.18.5.10",
  hostIPs: [
    {
      ip: "198.18.5.10",
    },
  ],
  initContainerStatuses: [
    {
      image: "busybox:1.35",
      imageID: "",
      lastState: {},
      name: "init",
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        waiting: {
          reason: "PodInitializing",
        },
      },
    },
    {
      image: "busybox:1.35",
      imageID: "",
      lastState: {},
      name: "side",
      ready: false,
      restartCount: 0,
      started: false,
      state: {
        waiting: {
          reason: "PodInitializing",
        },
      },
    },
  ],
  observedGeneration: 1,
  phase: "Pending",
  qosClass: "BestEffort",
  startTime: "2026-12-01T20:30:13.000Z",
};

export const initRunning = {
  conditions: [
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:15.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodReadyToStartContainers",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:18.000Z",
      observedGeneration: 1,
      status: "True",
      type: "Initialized",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:19.000Z",
      observedGeneration: 1,
      status: "True",
      type: "Ready",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:19.000Z",
      observedGeneration: 1,
      status: "True",
      type: "ContainersReady",
    },
    {
      lastProbeTime: null,
      lastTransitionTime: "2026-12-01T20:30:13.000Z",
      observedGeneration: 1,
      status: "True",
      type: "PodScheduled",
    },
  ],
  containerStatuses: [
    {
      containerID: "containerd://0494fe8c705f793e79054c3cf7600af941915ac91395d08afbc5279ffec4907d",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "a",
      ready: true,
      resources: {},
      restartCount: 0,
      started: true,
      state: {
        running: {
          startedAt: "2026-12-01T20:30:18.000Z",
        },
      },
    },
    {
      containerID: "containerd://ba2e088616ff6a20d81d1aad48e07df340f81b4ad1ddbda12e13c92d99c32e1f",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "b",
      ready: true,
      resources: {},
      restartCount: 0,
      started: true,
      state: {
        running: {
          startedAt: "2026-12-01T20:30:18.000Z",
        },
      },
    },
  ],
  hostIP: "198.18.5.10",
  hostIPs: [
    {
      ip: "198.18.5.10",
    },
  ],
  initContainerStatuses: [
    {
      containerID: "containerd://2b0ad237bc8f65ceaf3706ce1c05cee96bee9d615e985ef2b6b989bec5894614",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "init",
      ready: true,
      resources: {},
      restartCount: 0,
      started: false,
      state: {
        terminated: {
          containerID: "containerd://2b0ad237bc8f65ceaf3706ce1c05cee96bee9d615e985ef2b6b989bec5894614",
          exitCode: 0,
          finishedAt: "2026-12-01T20:30:16.000Z",
          reason: "Completed",
          startedAt: "2026-12-01T20:30:14.000Z",
        },
      },
    },
    {
      containerID: "containerd://80da85ca175a128b4121054f7574a4b2bfa498955edbd921db01ccd47d113848",
      image: "docker.io/library/busybox:1.35",
      imageID: "sha256:b5b3653349c95714f4532c432882f95b4feaa7c337374b74ca917aca06cb9180",
      lastState: {},
      name: "side",
      ready: true,
      resources: {},
      restartCount: 0,
      started: true,
      state: {
        running: {
          startedAt: "2026-12-01T20:30:17.000Z",
        },
      },
    },
  ],
  observedGeneration: 1,
  phase: "Running",
  podIP: "10.88.0.2",
  podIPs: [
    {
      ip: "10.88.0.2",
    },
  ],
  qosClass: "BestEffort",
  startTime: "2026-12-01T20:30:13.000Z",
};
