/**
 * Per-client topic permissions of the embedded broker, as topic filters with Mosquitto's ACL
 * pattern substitution: `%u` is the user name, `%c` the client id (mosquitto.conf(5), "pattern").
 * A device may publish where its filters match the topic, and subscribe to a filter only if one
 * of its filters covers all of it, so `tele/%u/#` allows `tele/plug-1/+` but not `tele/#`.
 * Wildcards at the first level never reach `$` topics ([MQTT-4.7.2-1]): `#` does not grant
 * `$SYS/#`; that has to be named. Pure.
 */
export interface TopicPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/**
 * Publish anywhere but `$SYS/`, subscribe nowhere. Subscribing is what leaked every device's
 * telemetry to any device; mqlite itself needs no subscription on its own broker. Publishing
 * stays open by default: restricting it to "own" topics needs a naming rule (user name = topic
 * level) that real fleets rarely follow (zigbee2mqtt logs in as one user for all its devices,
 * Tasmota's default topic is not its user name), and a refused QoS 1 publish makes the device
 * resend it forever. Set `publish: ['+/%u/#']` per user where the names line up.
 */
export const DEFAULT_PERMISSIONS: TopicPermissions = { publish: ['#'], subscribe: [] };

export class TopicAcl {
  private constructor(
    private readonly publish: readonly (readonly string[])[],
    private readonly subscribe: readonly (readonly string[])[],
  ) {}

  static for(p: TopicPermissions, who: { username: string | undefined; clientId: string }): TopicAcl {
    const compile = (filters: readonly string[]) =>
      filters.flatMap((f) => {
        const s = substitute(f, who);
        return s === undefined ? [] : [s.split('/')];
      });
    return new TopicAcl(compile(p.publish), compile(p.subscribe));
  }

  canPublish(topic: string): boolean {
    const levels = topic.split('/');
    return this.publish.some((f) => covers(f, levels, false));
  }

  canSubscribe(filter: string): boolean {
    const levels = filter.split('/');
    return this.subscribe.some((f) => covers(f, levels, true));
  }
}

/**
 * `%u`/`%c` replaced; undefined (the pattern grants nothing) when the value is missing or holds
 * `/`, `+` or `#`, which would let a user named `#` or `a/b` widen its own permissions
 * (Mosquitto refuses the same).
 */
function substitute(
  filter: string,
  who: { username: string | undefined; clientId: string },
): string | undefined {
  let unusable = false;
  const out = filter.replace(/%[uc]/g, (m) => {
    const v = m === '%u' ? who.username : who.clientId;
    if (v === undefined || v === '' || /[/+#]/.test(v)) unusable = true;
    return v ?? '';
  });
  return unusable ? undefined : out;
}

/**
 * Whether the allowed filter matches every topic the requested levels can match: for a topic
 * (no wildcards), plain matching; for a requested filter, a wildcard is covered only by a
 * wildcard at least as wide.
 */
function covers(allowed: readonly string[], requested: readonly string[], isFilter: boolean): boolean {
  const dollar = requested[0]?.startsWith('$') === true;
  for (let i = 0; i < allowed.length; i++) {
    const a = allowed[i];
    if (a === '#') return !(i === 0 && dollar);
    if (i >= requested.length) return false;
    const r = requested[i];
    if (isFilter && r === '#') return false;
    if (a === '+') {
      if (i === 0 && dollar) return false;
      continue;
    }
    if (a !== r) return false;
  }
  return allowed.length === requested.length;
}
