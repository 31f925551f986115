/**
 * The results as a Markdown table, the same text on stdout and in bench/RESULTS.md.
 */

export interface Row {
  section: string;
  measure: string;
  project: number | string;
  /** The physical limit measured in the same run (bare server, raw argon2), when there is one. */
  limit?: number | string;
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  threadPool: number;
  date: string;
  seconds: number;
  quick: boolean;
}

const show = (value: number | string | undefined) =>
  value === undefined ? '' : typeof value === 'string' ? value : value >= 100 ? value.toFixed(0) : value.toFixed(1);

export function formatReport(machine: Machine, rows: readonly Row[]): string {
  const lines = [
    '# Benchmark results',
    '',
    `${machine.date}: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, libuv thread pool ${machine.threadPool}, ` +
      `run took ${machine.seconds} s${machine.quick ? ' (BENCH_QUICK: short phases, figures are rough)' : ''}.`,
    'Produced by `npm run bench`; targets are reported, not asserted.',
    '',
    '| | measure | project | limit | ratio | target | met | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
    const ratio = row.ratio === undefined ? '' : row.ratio.toFixed(2);
    lines.push(`| ${row.section} | ${row.measure} | ${show(row.project)} | ${show(row.limit)} | ${ratio} | ${row.target ?? ''} | ${met} | ${row.note ?? ''} |`);
  }
  return `${lines.join('\n')}\n`;
}
