/** Sparkplug host application STATE messages: another host's online state, as a reading. */
import { rejected } from '../format-types.js';
import type { SparkplugResult } from './host.js';

/** The reading a node's, a device's or a host's online state is stored as (1 online, 0 offline). */
export const ONLINE_METRIC = 'sparkplug.online';

/** spBv1.0/STATE/<host>: JSON `{"online":bool,"timestamp":ms}` (3.0), or the 2.2 plain `ONLINE`/`OFFLINE`. */
export function hostState(hostId: string, payload: Uint8Array): SparkplugResult {
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
