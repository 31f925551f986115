/** Milliseconds since the epoch. Code that reads the time takes a clock, so tests pass one in. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
