/**
 * bench/RESULTS.md is a history: one dated entry per full run, the latest first, none ever rewritten,
 * so a figure can be compared with the runs before it (and docs/benchmarks.md can quote an older one).
 */

const TITLE = '# Benchmark results';
const INTRO =
  'Produced by `npm run bench`, one entry per full run, the latest first ([docs/benchmarks.md](../docs/benchmarks.md) ' +
  'says how each figure is measured). Targets are reported, not asserted.';

/** The file with `entry` (its text from its `## ` heading on) put before every earlier one. */
export function prependEntry(history: string | undefined, entry: string): string {
  const earlier = history === undefined ? '' : history.slice(firstEntry(history));
  return `${TITLE}\n\n${INTRO}\n\n${entry.trimEnd()}\n${earlier === '' ? '' : `\n${earlier}`}`;
}

/** Where the first entry starts (the end of the text when there is none). */
function firstEntry(history: string): number {
  const at = history.search(/^## /m);
  return at === -1 ? history.length : at;
}

/**
 * The ratio the latest recorded run gave for `measure` (a row's second cell, exactly), if any run did:
 * what "at least as fast as today" compares with.
 */
export function lastRecordedRatio(history: string | undefined, measure: string): number | undefined {
  for (const line of (history ?? '').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    // | section | measure | project | against | ratio | ...
    if (cells[2] === measure && cells[5] !== undefined && cells[5] !== '') return Number(cells[5]);
  }
  return undefined;
}
