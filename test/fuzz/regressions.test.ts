// Counterexamples the generated bad-input suite found, kept as plain cases: each names the input
// that broke a pure entry point and what it must do now.
import { describe, expect, it } from "vitest";
import { fromMesosResources } from "../../src/mesos/resources.ts";
import { QuantityError } from "../../src/resources/quantity.ts";
import { add, contains, subtractClamped, toResources } from "../../src/resources/resources.ts";

describe("fuzz regressions: resources", () => {
  it('a "__proto__" resource (JSON.parse makes it an own key) is refused, not dropped', () => {
    const map = JSON.parse('{"cpu": "1", "__proto__": "0.1e3"}');
    expect(() => toResources(map)).toThrow(QuantityError);
    expect(() => toResources(map)).toThrow(/__proto__/);
  });

  it('resources named like Object.prototype members ("toLocaleString", "constructor") add and compare as numbers', () => {
    const a = toResources({ cpu: "1" });
    const b = toResources({ toLocaleString: 1, constructor: "2" });
    expect(contains(a, b)).toBe(false);
    expect(add(a, b).scalars).toEqual({ cpu: 1000, toLocaleString: 1, constructor: 2 });
    expect(subtractClamped(b, a).scalars).toEqual({ toLocaleString: 1, constructor: 2 });
  });

  it("a Mesos scalar too large for the allocator's integers is refused naming the resource, not thrown", () => {
    const out = fromMesosResources([{ name: "cpus", type: "SCALAR", scalar: { value: 1e300 } }]);
    expect(out).toEqual({ ok: false, error: expect.stringMatching(/^resource cpus: .*too large/) });
  });
});
