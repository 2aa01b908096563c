/**
 * Schema 5: a message's readings_at rows may name different devices (a Sparkplug NDEATH stores
 * `sparkplug.online` = 0 for its node's every device, at the message's ts), so the uniqueness that
 * keeps one reading per (message, metric, ts) includes the device. Same leading message_id: retention
 * still deletes by id range through it. Only an index is rebuilt; readings_at is a small table.
 */
export const V5_READINGS_DEVICE = `
DROP INDEX readings_at_message;
CREATE UNIQUE INDEX readings_at_message ON readings_at(message_id, device, metric, ts);
`;
