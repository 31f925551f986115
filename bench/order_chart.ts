/**
 * The /order chart of a run (`bench/charts/<date>-order.svg`): for each runtime, the project's
 * requests per second and p99 latency beside Fastify's and the bare server's, all measured in the same
 * rounds. Plain SVG, written by hand: two panels of grouped bars, each bar labelled with its value.
 */

export interface OrderBars {
  /** `Node`, `Deno`. */
  runtime: string;
  /** In the order drawn: the project, Fastify, the bare server. */
  servers: readonly { label: string; rps: number; p99: number }[];
}

const COLOURS = ['#c0392b', '#7f8c8d', '#2471a3'];
const PANEL_WIDTH = 330;
const PANEL_HEIGHT = 240;
const MARGIN = { left: 52, right: 10, top: 30, bottom: 30 };
const BAR_WIDTH = 26;

/** A round number just above `value`, for the top of an axis: 1, 2 or 5 times a power of ten. */
function axisTop(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value) ?? value;
}

function format(value: number): string {
  return value >= 1000 ? `${+(value / 1000).toFixed(1)}k` : `${+value.toFixed(value >= 10 ? 0 : 2)}`;
}

function panel(title: string, groups: readonly OrderBars[], value: (server: OrderBars['servers'][number]) => number, offsetX: number): string {
  const top = axisTop(Math.max(...groups.flatMap((group) => group.servers.map(value))) * 1.1);
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (v: number) => MARGIN.top + (1 - v / top) * plotHeight;
  const groupWidth = (PANEL_WIDTH - MARGIN.left - MARGIN.right) / groups.length;
  const parts = [`<text x="${offsetX + PANEL_WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">${title}</text>`];
  for (const tick of [0, 0.25, 0.5, 0.75, 1].map((f) => f * top)) {
    parts.push(`<line x1="${offsetX + MARGIN.left}" x2="${offsetX + PANEL_WIDTH - MARGIN.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`);
    parts.push(`<text x="${offsetX + MARGIN.left - 4}" y="${y(tick) + 4}" text-anchor="end">${format(tick)}</text>`);
  }
  groups.forEach((group, g) => {
    const centre = offsetX + MARGIN.left + (g + 0.5) * groupWidth;
    const left = centre - (group.servers.length * BAR_WIDTH) / 2;
    group.servers.forEach((server, i) => {
      const v = value(server);
      const x = left + i * BAR_WIDTH;
      parts.push(`<rect x="${x + 2}" y="${y(v)}" width="${BAR_WIDTH - 4}" height="${y(0) - y(v)}" fill="${COLOURS[i % COLOURS.length]}"/>`);
      parts.push(`<text x="${x + BAR_WIDTH / 2}" y="${y(v) - 3}" text-anchor="middle" font-size="9">${format(v)}</text>`);
    });
    parts.push(`<text x="${centre}" y="${PANEL_HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${group.runtime}</text>`);
  });
  return parts.join('\n');
}

export function orderChart(groups: readonly OrderBars[]): string {
  const labels = groups[0]?.servers.map((server) => server.label) ?? [];
  const legend = labels.map((label, i) => {
    const x = 20 + i * 150;
    return `<rect x="${x}" y="${PANEL_HEIGHT + 4}" width="14" height="10" fill="${COLOURS[i % COLOURS.length]}"/><text x="${x + 20}" y="${PANEL_HEIGHT + 13}">${label}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH * 2}" height="${PANEL_HEIGHT + 24}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel('GET /order, requests per second', groups, (server) => server.rps, 0),
    panel('GET /order, p99 latency, ms', groups, (server) => server.p99, PANEL_WIDTH),
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
