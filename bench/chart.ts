/**
 * The storage chart in bench/RESULTS.md (`bench/storage.svg`): what one write costs against how much is
 * stored, before the journal (figures recorded in the RESULTS.md of 2026-11-27) and after
 * (this run). Plain SVG, written by hand: three panels, a log-scaled axis of the number stored.
 */

export interface Series {
  label: string;
  /** `before` series are drawn dashed. */
  before: boolean;
  colour: string;
  points: readonly (readonly [stored: number, value: number])[];
}

export interface Panel {
  title: string;
  /** Log-scaled values (bytes) or linear from 0. */
  log: boolean;
  series: readonly Series[];
}

const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 220;
const MARGIN = { left: 56, right: 12, top: 30, bottom: 40 };

/** Where a number stored goes on the x axis: log10, with 0 drawn at 10. */
const xOf = (stored: number) => (Math.log10(Math.max(stored, 10)) - 1) / 4; // 10 .. 100,000 → 0 .. 1

function niceMax(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value) ?? value;
}

function format(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return `${+value.toFixed(1)}`;
}

function panel(spec: Panel, offsetX: number): string {
  const values = spec.series.flatMap((series) => series.points.map(([, value]) => value)).filter((value) => value > 0);
  const low = spec.log ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 0;
  const high = spec.log ? 10 ** Math.ceil(Math.log10(Math.max(...values))) : niceMax(Math.max(...values) * 1.1);
  const yOf = (value: number) => (spec.log ? (Math.log10(Math.max(value, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low)) : value / high);
  const px = (stored: number) => offsetX + MARGIN.left + xOf(stored) * (PANEL_WIDTH - MARGIN.left - MARGIN.right);
  const py = (value: number) => MARGIN.top + (1 - yOf(value)) * (PANEL_HEIGHT - MARGIN.top - MARGIN.bottom);
  const parts: string[] = [`<text x="${offsetX + PANEL_WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">${spec.title}</text>`];
  const ticksY = spec.log
    ? Array.from({ length: Math.log10(high) - Math.log10(low) + 1 }, (_, i) => low * 10 ** i)
    : [0, 0.25, 0.5, 0.75, 1].map((f) => f * high);
  for (const tick of ticksY) {
    parts.push(`<line x1="${px(10)}" x2="${px(100_000)}" y1="${py(tick)}" y2="${py(tick)}" stroke="#ddd"/>`);
    parts.push(`<text x="${px(10) - 4}" y="${py(tick) + 4}" text-anchor="end">${format(tick)}</text>`);
  }
  for (const [stored, label] of [[0, '0'], [100, '100'], [1_000, '1k'], [10_000, '10k'], [100_000, '100k']] as const) {
    parts.push(`<text x="${px(stored)}" y="${PANEL_HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${label}</text>`);
  }
  parts.push(`<text x="${offsetX + PANEL_WIDTH / 2 + 20}" y="${PANEL_HEIGHT - 6}" text-anchor="middle">users and sessions stored</text>`);
  for (const series of spec.series) {
    const points = series.points.map(([stored, value]) => `${px(stored).toFixed(1)},${py(value).toFixed(1)}`);
    const dash = series.before ? ' stroke-dasharray="5 4"' : '';
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${series.colour}" stroke-width="2"${dash}/>`);
    for (const point of points) {
      const [x, y] = point.split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${series.before ? 'white' : series.colour}" stroke="${series.colour}"/>`);
    }
  }
  return parts.join('\n');
}

export function storageChart(panels: readonly Panel[]): string {
  const width = PANEL_WIDTH * panels.length;
  const legend = panels[0]!.series.concat(panels.slice(1).flatMap((p) => p.series)).filter(
    (series, i, all) => all.findIndex((other) => other.label === series.label) === i,
  );
  const legendHeight = 18 * Math.ceil(legend.length / 2) + 8;
  const items = legend.map((series, i) => {
    const x = 20 + (i % 2) * (width / 2);
    const y = PANEL_HEIGHT + 14 + Math.floor(i / 2) * 18;
    const dash = series.before ? ' stroke-dasharray="5 4"' : '';
    return `<line x1="${x}" x2="${x + 28}" y1="${y - 4}" y2="${y - 4}" stroke="${series.colour}" stroke-width="2"${dash}/><text x="${x + 34}" y="${y}">${series.label}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_HEIGHT + legendHeight}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((spec, i) => panel(spec, i * PANEL_WIDTH)),
    ...items,
    '</svg>',
    '',
  ].join('\n');
}
