/**
 * What a Sparkplug B payload's metrics become: each edge node's and device's alias table (from
 * BIRTH), and the readings of its metrics (host.ts keeps the per-node state around them).
 * `is_transient` is not stored, `is_null` has no value, `is_historical` keeps its own timestamp;
 * template instances flatten to `<metric>/<member>`, arrays to `<metric>.<i>`, DataSets to
 * `<metric>.<row>.<column>` (numeric cells), as a JSON document of rows would flatten.
 */
import type { FormatReading } from '../format-types.js';
import { protobuf } from './protobuf.js';
import { sparkplugSchema } from './schema.js';
import { arrayNumbers, DT, isArrayType, type ScalarValue, scalarNumber, timestampMs } from './values.js';

interface MetricDef {
  name: string;
  datatype: number | undefined;
}

export interface MetricTable {
  byAlias: Map<bigint, MetricDef>;
  /** Datatypes by name, for DATA that names metrics instead of aliasing them. */
  byName: Map<string, number | undefined>;
}

/** The decoded protobuf, as far as it is read here. */
export interface PbMetric {
  name: string;
  alias: bigint;
  timestamp: bigint;
  datatype: number;
  isHistorical: boolean;
  isTransient: boolean;
  isNull: boolean;
  value:
    | ScalarValue
    | { case: 'datasetValue'; value: PbDataSet }
    | { case: 'templateValue'; value: PbTemplate };
}
interface PbDataSet {
  columns: string[];
  types: number[];
  rows: { elements: { value: ScalarValue }[] }[];
}
interface PbTemplate {
  metrics: PbMetric[];
  isDefinition: boolean;
}
export interface PbPayload {
  timestamp: bigint;
  seq: bigint;
  metrics: PbMetric[];
}

/** Templates inside templates: bounded like JSON nesting. */
const MAX_TEMPLATE_DEPTH = 16;

/** Where readings go: capped at a maximum, `capped` set when one was left out. */
export interface ReadingsOut {
  readings: FormatReading[];
  capped: boolean;
}

/**
 * The readings of `metrics` (named, or aliased through `table`) into `emit`. Returns whether some
 * alias was not in the table (its metric is skipped: nothing names it).
 */
export function emitMetrics(emit: Emitter, metrics: PbMetric[], table: MetricTable): boolean {
  let unknownAlias = false;
  for (const m of metrics) {
    let name = m.name;
    let datatype: number | undefined = isSet(m, 'datatype') ? m.datatype : undefined;
    if (name === '') {
      const def = isSet(m, 'alias') ? table.byAlias.get(m.alias) : undefined;
      if (def === undefined) {
        unknownAlias = true;
        continue;
      }
      name = def.name;
      datatype ??= def.datatype;
    } else {
      datatype ??= table.byName.get(name);
    }
    if (m.isTransient || m.isNull) continue;
    const ts = m.isHistorical && m.timestamp > 0n ? timestampMs(m.timestamp) : undefined;
    value(emit, name, datatype, m, ts, 0);
  }
  return unknownAlias;
}

/** proto2 presence of a Metric's optional field (an alias or datatype of 0 is still set). */
function isSet(m: PbMetric, field: 'alias' | 'datatype'): boolean {
  return protobuf().isFieldSet(m as never, sparkplugSchema().metric.field[field]!);
}

export function newTable(): MetricTable {
  return { byAlias: new Map(), byName: new Map() };
}

export function define(table: MetricTable, metrics: PbMetric[]): void {
  for (const m of metrics) {
    if (m.name === '') continue;
    const datatype = isSet(m, 'datatype') ? m.datatype : undefined;
    table.byName.set(m.name, datatype);
    if (isSet(m, 'alias')) table.byAlias.set(m.alias, { name: m.name, datatype });
  }
}

export function bdSeqOf(metrics: PbMetric[]): bigint | undefined {
  const m = metrics.find((x) => x.name === 'bdSeq');
  if (m === undefined) return undefined;
  if (m.value.case === 'longValue') return m.value.value as bigint;
  if (m.value.case === 'intValue') return BigInt(m.value.value as number);
  return undefined;
}

/** One metric's value → readings under `name`. */
function value(
  emit: Emitter,
  name: string,
  datatype: number | undefined,
  m: PbMetric,
  ts: number | undefined,
  depth: number,
): void {
  const v = m.value;
  if (v.case === 'templateValue') {
    const tpl = v.value as PbTemplate;
    // Definitions (in NBIRTH) describe a type, not values.
    if (tpl.isDefinition || depth >= MAX_TEMPLATE_DEPTH) return;
    for (const member of tpl.metrics) {
      if (member.isTransient || member.isNull || member.name === '') continue;
      const dt = isSet(member, 'datatype') ? member.datatype : undefined;
      value(emit, `${name}/${member.name}`, dt, member, ts, depth + 1);
    }
    return;
  }
  if (v.case === 'datasetValue') {
    const ds = v.value as PbDataSet;
    for (let r = 0; r < ds.rows.length; r++) {
      const row = ds.rows[r]!.elements;
      for (let c = 0; c < row.length && c < ds.columns.length; c++) {
        const n = scalarNumber(row[c]!.value, ds.types[c]);
        if (n !== undefined) emit.push(`${name}.${r}.${ds.columns[c]}`, n, ts);
      }
    }
    return;
  }
  if (v.case === 'bytesValue' && datatype !== undefined && isArrayType(datatype)) {
    const items = arrayNumbers(datatype, v.value as Uint8Array);
    if (items !== undefined) for (let i = 0; i < items.length; i++) emit.push(`${name}.${i}`, items[i]!, ts);
    return;
  }
  if (datatype === DT.String || datatype === DT.Text || datatype === DT.UUID) return;
  const n = scalarNumber(v as ScalarValue, datatype);
  if (n !== undefined) emit.push(name, n, ts);
}

/** Appends readings up to the cap. */
export class Emitter {
  constructor(
    private readonly out: ReadingsOut,
    private readonly max: number,
  ) {}

  push(metric: string, value: number, ts: number | undefined, device?: string): void {
    if (!Number.isFinite(value)) return;
    if (this.out.readings.length >= this.max) {
      this.out.capped = true;
      return;
    }
    const r: FormatReading = ts === undefined ? { metric, value } : { metric, value, ts };
    if (device !== undefined) r.device = device;
    this.out.readings.push(r);
  }
}
