/**
 * A Sparkplug B host application's consumer side (Sparkplug 3.0, "Operational Behavior"): the state
 * a historian needs to turn DATA into named, typed readings. One instance lives in the SQLite worker
 * beside the decoder; everything here is synchronous and in memory.
 *
 * - BIRTH (NBIRTH, DBIRTH) defines each metric's name, alias and datatype per edge node and device;
 *   DATA usually carries only the alias and no datatype, so both are looked up here.
 * - `seq` (0–255, wrapping) runs per edge node across its node and device messages; a jump is a gap.
 * - NDEATH is accepted only when its bdSeq matches the current NBIRTH's (a late will from an older
 *   session must not mark a reborn node offline); DEATH gives the reading `sparkplug.online` = 0,
 *   BIRTH gives 1, so a node's state is in the data and in `latest`. DDEATH marks its device;
 *   NDEATH the node and every device it has given birth to (readings naming those devices).
 * - DATA before BIRTH, an unknown alias and a gap are anomalies: counted, what can be named is
 *   still stored, and (when enabled, at most once per interval per node) a rebirth is asked for.
 * - Metrics: `is_transient` not stored, `is_null` no value, `is_historical` at its own timestamp;
 *   template instances flatten to `<metric>/<member>`; arrays to `<metric>.<i>`; DataSets to
 *   `<metric>.<row>.<column>` (numeric cells), as a JSON document of rows would flatten.
 */
import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import type { FormatReading, FormatRejected } from '../format-types.js';
import { rejected } from '../format-types.js';
import { MetricDesc, PayloadDesc } from './schema.js';
import type { SparkplugTopic } from './topic.js';
import { arrayNumbers, DT, isArrayType, type ScalarValue, scalarNumber, timestampMs } from './values.js';

export const ONLINE_METRIC = 'sparkplug.online';

export const SPARKPLUG_ANOMALIES = ['data_before_birth', 'unknown_alias', 'seq_gap', 'stale_death'] as const;
export type SparkplugAnomaly = (typeof SPARKPLUG_ANOMALIES)[number];

export interface SparkplugHostOptions {
  maxReadings: number;
  /** Ask for a rebirth on anomalies (off by default: non-primary hosts should not). */
  rebirth: boolean;
  /** At most one rebirth request per edge node per this many ms. */
  rebirthIntervalMs: number;
  /** Edge nodes remembered; the least recently born is forgotten beyond this. */
  maxNodes: number;
}

export interface SparkplugDecoded {
  ok: true;
  /** `<group>/<edge node>` or `<group>/<edge node>/<device>`; `STATE/<host>` for host states. */
  device: string;
  /** The payload timestamp in ms, if it had one. */
  ts: number | undefined;
  readings: FormatReading[];
  capped: boolean;
  anomalies: SparkplugAnomaly[];
  /** Set when a rebirth should be requested now (enabled, due, and an anomaly asked for it). */
  rebirth: { group: string; node: string } | undefined;
}

export type SparkplugResult = SparkplugDecoded | FormatRejected;

interface MetricDef {
  name: string;
  datatype: number | undefined;
}

interface MetricTable {
  byAlias: Map<bigint, MetricDef>;
  /** Datatypes by name, for DATA that names metrics instead of aliasing them. */
  byName: Map<string, number | undefined>;
}

interface NodeState {
  bdSeq: bigint | undefined;
  /** The seq the next message of this node should carry; undefined when unknown. */
  nextSeq: number | undefined;
  lastRebirthAsk: number;
  table: MetricTable;
  devices: Map<string, MetricTable>;
  /** After an accepted NDEATH, until the next NBIRTH: its DATA is DATA before BIRTH. */
  dead: boolean;
  /** Devices after their DDEATH, until their next DBIRTH. */
  deadDevices: Set<string>;
}

/** The decoded protobuf, as far as it is read here. */
interface PbMetric {
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
interface PbPayload {
  timestamp: bigint;
  seq: bigint;
  metrics: PbMetric[];
}

/** Templates inside templates: bounded like JSON nesting. */
const MAX_TEMPLATE_DEPTH = 16;

export class SparkplugHost {
  private readonly nodes = new Map<string, NodeState>();
  /** Anomalies since start, by kind; read by the metrics. */
  readonly counts: Record<SparkplugAnomaly, number> = {
    data_before_birth: 0,
    unknown_alias: 0,
    seq_gap: 0,
    stale_death: 0,
  };

  constructor(private readonly opts: SparkplugHostOptions) {}

  /**
   * Handle one message. `replay` rebuilds state from a stored BIRTH at start: tables only, no
   * anomalies, and the seq is left unknown (messages were missed while stopped). Never throws.
   */
  handle(t: SparkplugTopic, payload: Uint8Array, receivedAt: number, replay = false): SparkplugResult {
    if (t.kind === 'state') return hostState(t.hostId, payload);
    let pb: PbPayload;
    try {
      pb = fromBinary(PayloadDesc, payload) as unknown as PbPayload;
    } catch (err) {
      return rejected(
        'invalid_sparkplug',
        `not a Sparkplug B payload: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const key = `${t.group}/${t.node}`;
    const device = t.device === undefined ? key : `${key}/${t.device}`;
    const out: SparkplugDecoded = {
      ok: true,
      device,
      ts: isFieldSet(pb as never, PayloadDesc.field.timestamp!) ? timestampMs(pb.timestamp) : undefined,
      readings: [],
      capped: false,
      anomalies: [],
      rebirth: undefined,
    };
    const emit = new Emitter(out, this.opts.maxReadings);
    let node = this.nodes.get(key);

    switch (t.type) {
      case 'NBIRTH': {
        const bdSeq = bdSeqOf(pb.metrics);
        // A broker's certificate of the birth this host already follows (it also arrives live on
        // the certificates subscription): starting over would forget the devices born since.
        if (replay && node?.bdSeq !== undefined && node.bdSeq === bdSeq) break;
        node = this.born(key);
        node.bdSeq = bdSeq;
        node.nextSeq = replay ? undefined : (Number(pb.seq) + 1) % 256;
        define(node.table, pb.metrics);
        this.metrics(emit, pb.metrics, node.table, out);
        emit.push(ONLINE_METRIC, 1, undefined);
        break;
      }
      case 'NDEATH': {
        const bdSeq = bdSeqOf(pb.metrics);
        if (node !== undefined && node.bdSeq !== undefined && bdSeq !== undefined && bdSeq !== node.bdSeq) {
          out.anomalies.push('stale_death');
          break;
        }
        emit.push(ONLINE_METRIC, 0, undefined);
        if (node !== undefined) {
          node.nextSeq = undefined;
          node.dead = true;
          // [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-devices-offline]
          // A host marks every device of a dead edge node offline as well.
          for (const d of node.devices.keys()) emit.push(ONLINE_METRIC, 0, undefined, `${key}/${d}`);
        }
        break;
      }
      case 'DBIRTH':
      case 'DDATA':
      case 'DDEATH':
      case 'NDATA': {
        if (node === undefined) {
          out.anomalies.push('data_before_birth');
          node = this.born(key);
        } else if (node.dead && !replay) {
          // Dead since its NDEATH and not born again: the aliases it knew may be stale (a BIRTH
          // missed), so this asks for a rebirth; the names it still has are used meanwhile.
          out.anomalies.push('data_before_birth');
        }
        // A node first seen by its DATA is followed from that seq on: a later gap still counts.
        if (!replay) this.checkSeq(node, pb, out);
        let table = node.table;
        if (t.device !== undefined) {
          const known = node.devices.get(t.device);
          if (t.type === 'DBIRTH' || known === undefined) {
            if (t.type !== 'DBIRTH' && !out.anomalies.includes('data_before_birth')) {
              out.anomalies.push('data_before_birth');
            }
            table = newTable();
            node.devices.set(t.device, table);
          } else {
            table = known;
            if (node.deadDevices.has(t.device) && !out.anomalies.includes('data_before_birth'))
              out.anomalies.push('data_before_birth');
          }
          if (t.type === 'DBIRTH') node.deadDevices.delete(t.device);
          else if (t.type === 'DDEATH') node.deadDevices.add(t.device);
        }
        if (t.type === 'DBIRTH') define(table, pb.metrics);
        if (t.type === 'DDEATH') {
          emit.push(ONLINE_METRIC, 0, undefined);
          break;
        }
        this.metrics(emit, pb.metrics, table, out);
        if (t.type === 'DBIRTH') emit.push(ONLINE_METRIC, 1, undefined);
        break;
      }
      default:
        // NCMD/DCMD: commands to the edge, not telemetry. Stored as messages, no readings, no state.
        break;
    }
    if (replay) return { ...out, readings: [], anomalies: [] };
    for (const a of out.anomalies) this.counts[a]++;
    if (
      this.opts.rebirth &&
      node !== undefined &&
      out.anomalies.some((a) => a !== 'stale_death') &&
      receivedAt - node.lastRebirthAsk >= this.opts.rebirthIntervalMs
    ) {
      node.lastRebirthAsk = receivedAt;
      out.rebirth = { group: t.group, node: t.node };
    }
    return out;
  }

  /** Fresh state for an edge node (a BIRTH, or DATA from a node never seen born). */
  private born(key: string): NodeState {
    const before = this.nodes.get(key);
    this.nodes.delete(key);
    if (this.nodes.size >= this.opts.maxNodes) {
      const oldest = this.nodes.keys().next();
      if (oldest.done !== true) this.nodes.delete(oldest.value);
    }
    const node: NodeState = {
      bdSeq: undefined,
      nextSeq: undefined,
      // A node asked recently stays asked-for across its own rebirth (rate limit per node).
      lastRebirthAsk: before?.lastRebirthAsk ?? Number.NEGATIVE_INFINITY,
      table: newTable(),
      devices: new Map(),
      dead: false,
      deadDevices: new Set(),
    };
    this.nodes.set(key, node);
    return node;
  }

  private checkSeq(node: NodeState, pb: PbPayload, out: SparkplugDecoded): void {
    const seq = Number(pb.seq % 256n);
    if (node.nextSeq !== undefined && seq !== node.nextSeq) out.anomalies.push('seq_gap');
    node.nextSeq = (seq + 1) % 256;
  }

  private metrics(emit: Emitter, metrics: PbMetric[], table: MetricTable, out: SparkplugDecoded): void {
    for (const m of metrics) {
      let name = m.name;
      let datatype: number | undefined = isFieldSet(m as never, MetricDesc.field.datatype!)
        ? m.datatype
        : undefined;
      if (name === '') {
        const def = isFieldSet(m as never, MetricDesc.field.alias!) ? table.byAlias.get(m.alias) : undefined;
        if (def === undefined) {
          if (!out.anomalies.includes('unknown_alias')) out.anomalies.push('unknown_alias');
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
  }
}

function newTable(): MetricTable {
  return { byAlias: new Map(), byName: new Map() };
}

function define(table: MetricTable, metrics: PbMetric[]): void {
  for (const m of metrics) {
    if (m.name === '') continue;
    const datatype = isFieldSet(m as never, MetricDesc.field.datatype!) ? m.datatype : undefined;
    table.byName.set(m.name, datatype);
    if (isFieldSet(m as never, MetricDesc.field.alias!))
      table.byAlias.set(m.alias, { name: m.name, datatype });
  }
}

function bdSeqOf(metrics: PbMetric[]): bigint | undefined {
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
      const dt = isFieldSet(member as never, MetricDesc.field.datatype!) ? member.datatype : undefined;
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
class Emitter {
  constructor(
    private readonly out: SparkplugDecoded,
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

/** spBv1.0/STATE/<host>: JSON `{"online":bool,"timestamp":ms}` (3.0), or the 2.2 plain `ONLINE`/`OFFLINE`. */
function hostState(hostId: string, payload: Uint8Array): SparkplugResult {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload).trim();
  } catch {
    return rejected('invalid_sparkplug', 'a STATE payload is not valid UTF-8');
  }
  let online: boolean | undefined;
  let ts: number | undefined;
  if (text === 'ONLINE' || text === 'OFFLINE') online = text === 'ONLINE';
  else {
    try {
      const doc = JSON.parse(text) as { online?: unknown; timestamp?: unknown };
      if (typeof doc.online === 'boolean') online = doc.online;
      if (typeof doc.timestamp === 'number' && Number.isSafeInteger(doc.timestamp)) ts = doc.timestamp;
    } catch {
      // reported below
    }
  }
  if (online === undefined)
    return rejected('invalid_sparkplug', 'a STATE payload is {"online":true|false,"timestamp":ms}');
  return {
    ok: true,
    device: `STATE/${hostId}`,
    ts,
    readings: [{ metric: ONLINE_METRIC, value: online ? 1 : 0 }],
    capped: false,
    anomalies: [],
    rebirth: undefined,
  };
}
