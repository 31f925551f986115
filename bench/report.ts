/**
 * One run's results as a Markdown table under a dated heading: the text printed on stdout, and the
 * entry `history.ts` puts at the top of bench/RESULTS.md.
 */

export interface Row {
  section: string;
  measure: string;
  project: number | string;
  /** What the project is measured against in the same run (bare server, Fastify, raw argon2), when anything. */
  against?: number | string;
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  deno: string;
  threadPool: number;
  date: string;
  seconds: number;
  quick: boolean;
}

/** Three significant figures or so: 12548, 93.5, 2.35. */
export const figure = (value: number) => value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2);
const show = (value: number | string | undefined) => (value === undefined ? '' : typeof value === 'string' ? value : figure(value));

export function formatReport(machine: Machine, rows: readonly Row[], charts: readonly { file: string; alt: string }[] = []): string {
  const lines = [
    `## ${machine.date}`,
    '',
    `${machine.cores} cores (${machine.cpu}), Node ${machine.node}, Deno ${machine.deno}, libuv thread pool ${machine.threadPool}, ` +
      `run took ${machine.seconds} s${machine.quick ? ' (BENCH_QUICK: short phases, figures are rough)' : ''}.`,
    '',
    '| | measure | project | against | ratio | target | met | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
    const ratio = row.ratio === undefined ? '' : row.ratio.toFixed(2);
    lines.push(`| ${row.section} | ${row.measure} | ${show(row.project)} | ${show(row.against)} | ${ratio} | ${row.target ?? ''} | ${met} | ${row.note ?? ''} |`);
  }
  if (charts.length > 0) lines.push('', ...charts.map((chart) => `![${chart.alt}](${chart.file})`));
  return `${lines.join('\n')}\n`;
}
