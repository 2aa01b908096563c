/**
 * Config checks that need a stage's own knowledge (topic filter and template syntax).
 * Run by the CLI with the schema checks, so `check-config` reports them too.
 */
import type { Config } from './config/index.js';
import { validateTemplate } from './decode/topic-template.js';
import { validateFilter } from './decode/topic-filter.js';
import type { ConfigProblem } from './lib/errors.js';

export function stageChecks(c: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const t = validateTemplate(c.subscribe.template);
  if (t !== undefined) problems.push({ key: 'subscribe.template', value: c.subscribe.template, expected: t });
  c.subscribe.topics.forEach((f, i) => {
    const e = validateFilter(f);
    if (e !== undefined) problems.push({ key: `subscribe.topics.${i}`, value: f, expected: e });
  });
  c.subscribe.formats.forEach((rule, i) => {
    const e = validateFilter(rule.filter);
    if (e !== undefined) problems.push({ key: `subscribe.formats.${i}.filter`, value: rule.filter, expected: e });
  });
  return problems;
}
