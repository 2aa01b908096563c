/**
 * Whether a listener address is reachable only from this machine: the embedded broker may run
 * without credentials there and nowhere else. One rule for config validation and the broker.
 * Accepts what parseHostPort yields and what users write: brackets, any case, the whole
 * 127.0.0.0/8, and IPv4-mapped IPv6 loopback.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
  );
}
