/**
 * A topic a conforming broker never sends ([MQTT-1.5.3-1], [MQTT-1.5.3-2]): one with U+0000, or
 * with U+FFFD, which is what MQTT.js's parser (mqtt-packet, Buffer#toString) makes of invalid
 * UTF-8, so distinct topics would merge. A topic that really contains U+FFFD is dropped too: the
 * parser leaves no way to tell them apart.
 */
export function isMalformedTopic(topic: string): boolean {
  return topic.includes('\u0000') || topic.includes('\uFFFD');
}
