/** Fixture JSON (test/fixtures/sparkplug/README.md) → a Sparkplug B protobuf payload. */
import { create, toBinary } from '@bufbuild/protobuf';
import { sparkplugSchema } from '../../../../src/decode/formats/sparkplug/schema.js';

const PayloadDesc = sparkplugSchema().payload;

export interface FixtureValue {
  int?: number;
  long?: string;
  float?: number;
  double?: number;
  bool?: boolean;
  string?: string;
  bytes?: string;
  template?: { template_ref?: string; is_definition?: boolean; metrics: FixtureMetric[] };
  dataset?: { columns: string[]; types: number[]; rows: FixtureValue[][] };
}

export interface FixtureMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  is_historical?: boolean;
  is_transient?: boolean;
  is_null?: boolean;
  value?: FixtureValue;
}

export interface FixturePayload {
  timestamp?: number;
  seq?: number;
  metrics: FixtureMetric[];
}

function oneof(v: FixtureValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.int !== undefined) return { case: 'intValue', value: v.int };
  if (v.long !== undefined) return { case: 'longValue', value: BigInt(v.long) };
  if (v.float !== undefined) return { case: 'floatValue', value: v.float };
  if (v.double !== undefined) return { case: 'doubleValue', value: v.double };
  if (v.bool !== undefined) return { case: 'booleanValue', value: v.bool };
  if (v.string !== undefined) return { case: 'stringValue', value: v.string };
  if (v.bytes !== undefined)
    return { case: 'bytesValue', value: new Uint8Array(Buffer.from(v.bytes, 'hex')) };
  if (v.template !== undefined) {
    return {
      case: 'templateValue',
      value: {
        templateRef: v.template.template_ref,
        isDefinition: v.template.is_definition,
        metrics: v.template.metrics.map(metric),
      },
    };
  }
  if (v.dataset !== undefined) {
    const d = v.dataset;
    return {
      case: 'datasetValue',
      value: {
        numOfColumns: BigInt(d.columns.length),
        columns: d.columns,
        types: d.types,
        rows: d.rows.map((r) => ({ elements: r.map((e) => ({ value: oneof(e) })) })),
      },
    };
  }
  throw new Error(`fixture value ${JSON.stringify(v)} has no known kind`);
}

function metric(m: FixtureMetric): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (m.name !== undefined) out.name = m.name;
  if (m.alias !== undefined) out.alias = BigInt(m.alias);
  if (m.timestamp !== undefined) out.timestamp = BigInt(m.timestamp);
  if (m.datatype !== undefined) out.datatype = m.datatype;
  if (m.is_historical !== undefined) out.isHistorical = m.is_historical;
  if (m.is_transient !== undefined) out.isTransient = m.is_transient;
  if (m.is_null !== undefined) out.isNull = m.is_null;
  const value = oneof(m.value);
  if (value !== undefined) out.value = value;
  return out;
}

export function encodeSparkplug(p: FixturePayload): Uint8Array {
  const init: Record<string, unknown> = { metrics: p.metrics.map(metric) };
  if (p.timestamp !== undefined) init.timestamp = BigInt(p.timestamp);
  if (p.seq !== undefined) init.seq = BigInt(p.seq);
  return toBinary(PayloadDesc, create(PayloadDesc, init as never));
}
