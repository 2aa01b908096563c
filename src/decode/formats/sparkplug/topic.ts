/**
 * Sparkplug B topics (Sparkplug 3.0, "Topic Namespace"):
 *   spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]
 *   spBv1.0/STATE/<host_id>   (a host application's JSON birth/death, not protobuf)
 * The device level is present exactly on DBIRTH, DDEATH, DDATA and DCMD.
 */

export const SPARKPLUG_NAMESPACE = 'spBv1.0';
export const SPARKPLUG_FILTER = `${SPARKPLUG_NAMESPACE}/#`;
/**
 * Sparkplug 3.0 "Sparkplug Aware MQTT Server": such a broker keeps each NBIRTH and DBIRTH, retained,
 * on `$sparkplug/certificates/spBv1.0/<group>/NBIRTH/<node>` and `…/DBIRTH/<node>/<device>`
 * ([conformance-mqtt-aware-nbirth-mqtt-topic], [conformance-mqtt-aware-dbirth-mqtt-retain]), so a
 * host that connects late can learn the aliases without asking for a rebirth.
 */
export const SPARKPLUG_CERTIFICATES = '$sparkplug/certificates/';
export const SPARKPLUG_CERTIFICATES_FILTER = `${SPARKPLUG_CERTIFICATES}${SPARKPLUG_NAMESPACE}/#`;

const NODE_TYPES = new Set(['NBIRTH', 'NDEATH', 'NDATA', 'NCMD']);
const DEVICE_TYPES = new Set(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD']);

export type SparkplugTopic =
  | { kind: 'state'; hostId: string }
  | { kind: 'node' | 'device'; group: string; type: string; node: string; device: string | undefined };

/** The topic's parts, or a sentence saying what is wrong with it. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | string {
  const levels = topic.split('/');
  if (levels[0] !== SPARKPLUG_NAMESPACE) return `not in the ${SPARKPLUG_NAMESPACE} namespace`;
  if (levels[1] === 'STATE') {
    if (levels.length !== 3 || levels[2] === '') return 'a STATE topic is spBv1.0/STATE/<host_id>';
    return { kind: 'state', hostId: levels[2]! };
  }
  const [, group, type, node, device] = levels;
  if (group === undefined || type === undefined || node === undefined || group === '' || node === '') {
    return 'expected spBv1.0/<group>/<type>/<edge node>[/<device>]';
  }
  if (NODE_TYPES.has(type)) {
    if (levels.length !== 4) return `${type} has no device level`;
    return { kind: 'node', group, type, node, device: undefined };
  }
  if (DEVICE_TYPES.has(type)) {
    if (levels.length !== 5 || device === undefined || device === '') return `${type} needs a device level`;
    return { kind: 'device', group, type, node, device };
  }
  return `unknown message type "${type.slice(0, 20)}"`;
}
