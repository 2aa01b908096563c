/**
 * The latest value of each series in Prometheus's text format (version 0.0.4), for scraping at
 * /readings/metrics: names as everywhere else (names.ts), one family per name (a gauge, or a
 * counter for names ending in _total), no sample
 * timestamps (Prometheus stamps them at scrape, as exporters are advised to leave them). A series
 * not updated for staleAfterMs is left out, so a dead sensor disappears instead of freezing at
 * its last value; at most maxSeries series, the rest counted as refused.
 */
import { formatValue } from './api-params.js';
import type { LatestReading } from './data.js';
import { type Labels, metricType, seriesLabels } from './names.js';

export interface ExpositionSettings {
  readonly staleAfterMs: number;
  readonly maxSeries: number;
}

export function renderExposition(
  latest: readonly LatestReading[],
  now: number,
  s: ExpositionSettings,
): { text: string; refused: number } {
  const fresh = latest.filter((r) => now - r.ts <= s.staleAfterMs);
  // Newest first under the cap: a flood of new series cannot hide the ones still reporting.
  fresh.sort((a, b) => b.ts - a.ts);
  const kept = fresh.slice(0, s.maxSeries);
  const families = new Map<string, { labels: Labels; value: number }[]>();
  for (const r of kept) {
    const { __name__: name = '', ...labels } = seriesLabels(r.device, r.metric);
    let f = families.get(name);
    if (!f) {
      f = [];
      families.set(name, f);
    }
    f.push({ labels, value: r.value });
  }
  const lines: string[] = [];
  for (const name of [...families.keys()].sort()) {
    const samples = families.get(name) ?? [];
    const originals = [...new Set(samples.map((x) => x.labels.mqlite_metric ?? name))].sort();
    lines.push(`# HELP ${name} Latest mqlite reading of ${originals.map(escapeHelp).join(', ')}.`);
    lines.push(`# TYPE ${name} ${metricType(name)}`);
    samples.sort((a, b) => (labelText(a.labels) < labelText(b.labels) ? -1 : 1));
    for (const x of samples) lines.push(`${name}${labelText(x.labels)} ${formatValue(x.value)}`);
  }
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, refused: fresh.length - kept.length };
}

function labelText(labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
