/**
 * The settings users reach from the command line and the environment, and the YAML key each
 * one sets. One table, so a flag, its variable and its key can never drift apart.
 */
export interface SettingSource {
  /** commander option name (camelCase of the long flag). */
  readonly flag: string;
  readonly env: string;
  /** Dotted YAML key. */
  readonly key: string;
  readonly kind: 'string' | 'int' | 'list';
}

export const SETTINGS: readonly SettingSource[] = [
  { flag: 'broker', env: 'MQLITE_BROKER', key: 'broker.url', kind: 'string' },
  { flag: 'listen', env: 'MQLITE_LISTEN', key: 'embedded.listen', kind: 'string' },
  { flag: 'db', env: 'MQLITE_DB', key: 'db.path', kind: 'string' },
  { flag: 'topic', env: 'MQLITE_TOPIC', key: 'subscribe.topics', kind: 'list' },
  { flag: 'qos', env: 'MQLITE_QOS', key: 'subscribe.qos', kind: 'int' },
  { flag: 'clientId', env: 'MQLITE_CLIENT_ID', key: 'broker.clientId', kind: 'string' },
  { flag: 'template', env: 'MQLITE_TEMPLATE', key: 'subscribe.template', kind: 'string' },
  { flag: 'shareGroup', env: 'MQLITE_SHARE_GROUP', key: 'subscribe.shareGroup', kind: 'string' },
  { flag: 'http', env: 'MQLITE_HTTP', key: 'http.listen', kind: 'string' },
  { flag: 'logLevel', env: 'MQLITE_LOG_LEVEL', key: 'log.level', kind: 'string' },
  { flag: 'mqttVersion', env: 'MQLITE_MQTT_VERSION', key: 'broker.protocolVersion', kind: 'int' },
  { flag: 'username', env: 'MQLITE_USERNAME', key: 'broker.username', kind: 'string' },
  // No --password flag on purpose: argv is visible to every user in `ps`.
  { flag: '', env: 'MQLITE_PASSWORD', key: 'broker.password', kind: 'string' },
  { flag: 'tlsCa', env: 'MQLITE_TLS_CA', key: 'broker.tls.ca', kind: 'string' },
  { flag: 'tlsCert', env: 'MQLITE_TLS_CERT', key: 'broker.tls.cert', kind: 'string' },
  { flag: 'tlsKey', env: 'MQLITE_TLS_KEY', key: 'broker.tls.key', kind: 'string' },
  // Forwarding (issue 16). The URL may hold a password, so it has no flag either.
  { flag: '', env: 'MQLITE_FORWARD_POSTGRES_URL', key: 'forward.postgres.url', kind: 'string' },
  { flag: '', env: 'MQLITE_FORWARD_POSTGRES_PASSWORD', key: 'forward.postgres.password', kind: 'string' },
];

/** Keys whose values never appear in output. */

export function convert(kind: SettingSource['kind'], raw: string | string[]): unknown {
  switch (kind) {
    case 'list':
      // Flags repeat (--topic a --topic b); the variable is comma-separated.
      return Array.isArray(raw)
        ? raw
        : raw
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '');
    case 'int': {
      const s = Array.isArray(raw) ? (raw[raw.length - 1] ?? '') : raw;
      // Keep the text when it is not a number so the error shows what the user wrote.
      return /^-?\d+$/.test(s.trim()) ? Number(s) : s;
    }
    case 'string':
      return Array.isArray(raw) ? raw[raw.length - 1] : raw;
  }
}
