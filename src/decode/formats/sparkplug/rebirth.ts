/**
 * The rebirth request a host sends an edge node (Sparkplug 3.0, "Edge Node Command"): an NCMD on
 * spBv1.0/<group>/NCMD/<edge node> whose metric `Node Control/Rebirth` is the Boolean true, never
 * aliased, with a timestamp. Built here so the request is tested with the rest of the format;
 * publishing it is the MQTT source's job.
 */
import { protobuf } from './protobuf.js';
import { sparkplugSchema } from './schema.js';
import { SPARKPLUG_NAMESPACE } from './topic.js';
import { DT } from './values.js';

export const REBIRTH_METRIC = 'Node Control/Rebirth';

export function rebirthCommand(
  group: string,
  node: string,
  nowMs: number,
): { topic: string; payload: Uint8Array } {
  const { create, toBinary } = protobuf();
  const PayloadDesc = sparkplugSchema().payload;
  const payload = create(PayloadDesc, {
    timestamp: BigInt(Math.trunc(nowMs)),
    metrics: [
      {
        name: REBIRTH_METRIC,
        timestamp: BigInt(Math.trunc(nowMs)),
        datatype: DT.Boolean,
        value: { case: 'booleanValue', value: true },
      },
    ],
  } as never);
  return { topic: `${SPARKPLUG_NAMESPACE}/${group}/NCMD/${node}`, payload: toBinary(PayloadDesc, payload) };
}
