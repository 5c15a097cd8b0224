/**
 * Server-side SVG line charts of a source's throughput (and lag, when the source reports it)
 * over the last hour or day: no script, so the CSP stays strict, and the chart prints.
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { StatusSample } from "../../daemon/serve/status.ts";
import { rate } from "./format.ts";

const W = 600, H = 160, PAD_L = 44, PAD_R = 8, PAD_T = 10, PAD_B = 22;

/** The polyline points of `values` scaled to the plot area; null values break nothing. */
export function linePoints(
  samples: readonly StatusSample[],
  value: (s: StatusSample) => number | null,
  range: { t0: number; t1: number; max: number },
): string {
  const span = Math.max(1, range.t1 - range.t0);
  const pts: string[] = [];
  for (const s of samples) {
    const v = value(s);
    if (v === null || !Number.isFinite(v)) continue;
    const x = PAD_L + ((s.at - range.t0) / span) * (W - PAD_L - PAD_R);
    const y = PAD_T + (1 - v / range.max) * (H - PAD_T - PAD_B);
    pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  return pts.join(" ");
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** One chart: events/s (solid) and lag in bytes (dashed, own scale) of one source. */
export const SourceChart = ({ source, samples, window, now }: {
  source: string;
  samples: readonly StatusSample[];
  window: "hour" | "day";
  now: number;
}): JSX.Element => {
  const t1 = samples.length ? samples[samples.length - 1]!.at : now;
  const t0 = t1 - (window === "hour" ? 3600_000 : 86_400_000);
  const maxRate = Math.max(1, ...samples.map((s) => s.eventsPerSecond));
  const lags = samples.map((s) => s.lagBytes).filter((v): v is number => v !== null);
  const maxLag = Math.max(1, ...lags);
  const label = `Events per second of ${source} over the last ${window}`;
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={label}
      data-source={source}
      data-points={String(samples.length)}
    >
      <title>{label}</title>
      <line class="axis" x1={PAD_L} y1={H - PAD_B} x2={W - PAD_R} y2={H - PAD_B} />
      <line class="axis" x1={PAD_L} y1={PAD_T} x2={PAD_L} y2={H - PAD_B} />
      <text x={PAD_L - 4} y={PAD_T + 8} text-anchor="end">{rate(maxRate)}</text>
      <text x={PAD_L - 4} y={H - PAD_B} text-anchor="end">0</text>
      <text x={PAD_L} y={H - 6}>{clock(t0)}</text>
      <text x={W - PAD_R} y={H - 6} text-anchor="end">{clock(t1)} UTC</text>
      {samples.length === 0
        ? <text x={W / 2} y={H / 2} text-anchor="middle">no samples yet</text>
        : null}
      <polyline
        class="line"
        points={linePoints(samples, (s) => s.eventsPerSecond, { t0, t1, max: maxRate })}
      />
      {lags.length
        ? (
          <polyline
            class="lag"
            points={linePoints(samples, (s) => s.lagBytes, { t0, t1, max: maxLag })}
          />
        )
        : null}
    </svg>
  );
};
