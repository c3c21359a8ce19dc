/**
 * Charts as PNG buffers, through chart.js on node-canvas
 * (chartjs-node-canvas). Every chart has a title, labelled axes with units
 * and a legend; images are 1600 × 1000.
 */
import { ChartJSNodeCanvas } from 'chartjs-node-canvas';
import type { ChartConfiguration } from 'chart.js';

export const WIDTH = 1600;
export const HEIGHT = 1000;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

let canvas: ChartJSNodeCanvas | undefined;

function renderer(): ChartJSNodeCanvas {
  canvas ??= new ChartJSNodeCanvas({
    width: WIDTH,
    height: HEIGHT,
    backgroundColour: 'white',
    chartCallback: (ChartJS) => {
      ChartJS.defaults.font.size = 26;
      ChartJS.defaults.font.family = 'DejaVu Sans, sans-serif';
      ChartJS.defaults.color = '#222';
    },
  });
  return canvas;
}

export function color(i: number): string {
  return COLORS[i % COLORS.length]!;
}

export interface Series {
  label: string;
  points: [number, number][];
  dashed?: boolean;
  /** The palette entry to draw it in (default: its place in the list): a real series and its simulated twin share one. */
  colorIndex?: number;
}

/** Lines through (x, y) points, optionally log-scaled on x. */
export async function lineChart(o: { title: string; x: string; y: string; series: Series[]; logX?: boolean; yMin?: number; yMax?: number; stepped?: boolean }): Promise<Buffer> {
  const cfg: ChartConfiguration<'scatter'> = {
    type: 'scatter',
    data: {
      datasets: o.series.map((s, i) => ({
        label: s.label,
        data: s.points.map(([x, y]) => ({ x, y })),
        showLine: true,
        borderColor: color(s.colorIndex ?? i),
        backgroundColor: color(s.colorIndex ?? i),
        borderWidth: 4,
        pointRadius: s.points.length > 60 ? 0 : 5,
        borderDash: s.dashed ? [14, 8] : [],
        stepped: o.stepped ?? false,
      })),
    },
    options: {
      animation: false,
      plugins: { title: { display: true, text: o.title, font: { size: 34 } }, legend: { display: true, position: 'bottom' } },
      scales: {
        x: { type: o.logX ? 'logarithmic' : 'linear', title: { display: true, text: o.x } },
        y: { title: { display: true, text: o.y }, min: o.yMin, max: o.yMax },
      },
    },
  };
  return renderer().renderToBuffer(cfg as unknown as ChartConfiguration, 'image/png');
}

/** Grouped bars over categories. */
export async function barChart(o: { title: string; x: string; y: string; labels: string[]; series: { label: string; values: number[] }[] }): Promise<Buffer> {
  const cfg: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: { labels: o.labels, datasets: o.series.map((s, i) => ({ label: s.label, data: s.values, backgroundColor: color(i) })) },
    options: {
      animation: false,
      plugins: { title: { display: true, text: o.title, font: { size: 34 } }, legend: { display: true, position: 'bottom' } },
      scales: { x: { title: { display: true, text: o.x } }, y: { title: { display: true, text: o.y } } },
    },
  };
  return renderer().renderToBuffer(cfg as unknown as ChartConfiguration, 'image/png');
}
