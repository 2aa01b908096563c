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
 * What each metric becomes (aliases, templates, arrays, DataSets) is metrics.ts's; STATE messages
 * of other hosts are host-state.ts's.
 */
import type { FormatReading, FormatRejected } from '../format-types.js';
import { rejected } from '../format-types.js';
import { hostState, ONLINE_METRIC } from './host-state.js';
import {
  bdSeqOf,
  define,
  Emitter,
  emitMetrics,
  type MetricTable,
  newTable,
  type PbMetric,
  type PbPayload,
} from './metrics.js';
import { protobuf } from './protobuf.js';
import { sparkplugSchema } from './schema.js';
import type { SparkplugTopic } from './topic.js';
import { timestampMs } from './values.js';

export { ONLINE_METRIC } from './host-state.js';

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
    const { fromBinary, isFieldSet } = protobuf();
    const PayloadDesc = sparkplugSchema().payload;
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
    if (emitMetrics(emit, metrics, table) && !out.anomalies.includes('unknown_alias'))
      out.anomalies.push('unknown_alias');
  }
}
