// The operator's one notion of "now", injected wherever time decides something (lease liveness,
// offer expiry, filters, backoffs, assumptions), so that a test can set the time instead of
// waiting for it. Production reads the system clock.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
