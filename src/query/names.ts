/**
 * One mapping from mqlite's (device, metric) to Prometheus labels, used by the query API, the
 * readings exposition and the export, so a series has the same name everywhere.
 *
 * - The metric name is the metric with every character outside `[a-zA-Z0-9_:]` replaced by `_`,
 *   and `_` put in front of a leading digit: `battery.level` → `battery_level`,
 *   `ENERGY.Total` → `ENERGY_Total`, `1wire` → `_1wire`.
 * - When that changed the name, the label `mqlite_metric` holds the original, so the mapping is
 *   reversible and two metrics that map to the same name (`a.b`, `a_b`) stay distinct series.
 * - The device is the label `device`.
 */

export type Labels = Readonly<Record<string, string>>;

export const DEVICE_LABEL = 'device';
export const METRIC_LABEL = 'mqlite_metric';
const VALID_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function promName(metric: string): string {
  if (VALID_NAME.test(metric)) return metric;
  const replaced = metric.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(replaced) || replaced === '' ? `_${replaced}` : replaced;
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
