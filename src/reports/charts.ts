import { histogramOverlay } from '../charts/index.js';
import { toPng } from '../charts/png.js';
import type { ReportContent } from './content.js';
import type { ChartRenderer, InlineImage } from './render.js';

const TOP = 8;

/**
 * The report's inline charts: per model with drift results, the PSI of its most drifted features this
 * period next to the previous period's (the same numbers as the table, at a glance), as a PNG rendered
 * from the SVG chart code the web UI shares.
 */
export const psiCharts: ChartRenderer = async (content: ReportContent) => {
  const images: InlineImage[] = [];
  for (const m of content.models) {
    const features = m.features.filter((f) => f.psi !== null).slice(0, TOP);
    if (features.length === 0) continue;
    const svg = histogramOverlay({
      width: 640,
      height: 260,
      title: `${m.model}: PSI of the most drifted features, previous period vs this one`,
      bins: features.map((f) => ({ label: f.feature, baseline: f.previousPsi ?? 0, current: f.psi ?? 0 })),
      names: { baseline: 'Previous period', current: 'This period' },
      yFormat: (v: number) => v.toFixed(2),
    });
    const cid = `psi-${images.length}@driftwatch`;
    images.push({
      cid,
      filename: `${m.model}-psi.png`,
      content: toPng(svg, { width: 640 }),
      contentType: 'image/png',
      alt: `PSI of ${m.model}'s most drifted features, previous period and this one`,
      model: m.model,
    });
  }
  return images;
};
