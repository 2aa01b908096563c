/**
 * One mapping from mqlite's (device, metric) to Prometheus labels, used by the query API, the
 * readings exposition and the export, so a series has the same name everywhere.
 *
 * - The metric name is the metric in Prometheus's snake_case: camelCase split with `_`, lower
 *   case, every run of characters outside `[a-z0-9]` one `_` (colons too: Prometheus keeps them
 *   for recording rules), `_` trimmed at the ends and put in front of a leading digit:
 *   `battery.level` → `battery_level`, `ENERGY.TotalStartTime` → `energy_total_start_time`,
 *   `1wire` → `_1wire`. Lint-clean for `promtool check metrics`.
 * - When that changed the name, the label `mqlite_metric` holds the original, so the mapping is
 *   reversible and two metrics that map to the same name (`a.b`, `a_b`) stay distinct series.
 * - The device is the label `device`.
 */

export type Labels = Readonly<Record<string, string>>;

export const DEVICE_LABEL = 'device';
export const METRIC_LABEL = 'mqlite_metric';

export function promName(metric: string): string {
  const snake = metric
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return snake === '' || /^[0-9]/.test(snake) ? `_${snake}` : snake;
}

/**
 * Every reading is a gauge, except those whose name ends in `_total`: Prometheus's convention
 * reserves that suffix for counters (promtool lints a gauge so named), and a device's `Total`
 * (Tasmota's ENERGY.Total, a meter reading) is one.
 */
export function metricType(name: string): 'gauge' | 'counter' {
  return name.endsWith('_total') ? 'counter' : 'gauge';
}

/** Labels of a series, sorted by name (Prometheus's order). */
export function seriesLabels(device: string, metric: string): Labels {
  const name = promName(metric);
  const out: Record<string, string> = { __name__: name, [DEVICE_LABEL]: device };
  if (name !== metric) out[METRIC_LABEL] = metric;
  return out;
}

/** The stored metric a set of labels stands for (the inverse of seriesLabels). */
export function storedMetric(labels: Labels): string | undefined {
  return labels[METRIC_LABEL] ?? labels.__name__;
}

/** A stable identity of a label set, for grouping and sorting. */
export function labelsKey(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

export function withoutName(labels: Labels): Labels {
  const { __name__: _, ...rest } = labels;
  return rest;
}
