/** The figures every benchmark quotes: medians and quartiles of runs. */

/** The value below which `q` of the values lie (linear between neighbours); 0.5: the median. NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = sorted[Math.floor(at)] ?? NaN;
  const high = sorted[Math.ceil(at)] ?? NaN;
  return low + (high - low) * (at - Math.floor(at));
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** `median [p25–p75]`, with `digits` decimals. */
export const spread = (values: readonly number[], digits: number): string =>
  `${median(values).toFixed(digits)} [${quantile(values, 0.25).toFixed(digits)}–${quantile(values, 0.75).toFixed(digits)}]`;
