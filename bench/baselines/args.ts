/** The one argument every baseline takes: a JSON object, so parent and child share one typed shape. */

export interface BaselineArgs {
  readonly url: string;
  readonly clientId: string;
  readonly topic: string;
  readonly qos: 0 | 1;
  readonly protocolVersion: 4 | 5;
  /** Writers only: SQLite file. */
  readonly db?: string;
}

export function baselineArgs(): BaselineArgs {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: <baseline>.js \'{"url":...,"clientId":...,"topic":...,"qos":1}\'');
  return JSON.parse(raw) as BaselineArgs;
}
