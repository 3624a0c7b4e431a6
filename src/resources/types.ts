// The vocabulary of resource arithmetic. Pure data: no Kubernetes types, no I/O.
// Every scalar is an integer: cpu in milli-cores, memory / storage in bytes, extended
// resources (nvidia.com/gpu, ...) in whole units. Ports are inclusive ranges.

/** Scalar resources by Kubernetes name, integer units ("cpu" is milli-cores). */
export type Scalars = Record<string, number>;

export interface PortRange {
  begin: number;
  end: number;
}

export interface Resources {
  scalars: Scalars;
  /** Sorted, non-overlapping, inclusive ranges. */
  ports: PortRange[];
}

/** Resources as objects hold them: `{cpu: "500m", memory: "1Gi", ports: [{begin, end}]}`. */
export type ResourceMap = Record<string, string | number | PortRange[]>;

/** An attribute constraint a framework puts on the agents it wants offers from (Framework spec.constraints). */
export interface AttributeConstraint {
  attribute: string;
  /** In: value must be one of values. NotIn: must not be. Exists / DoesNotExist: key presence. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: readonly string[] | undefined;
}
