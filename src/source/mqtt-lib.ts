/**
 * MQTT.js, loaded with require() rather than `import`. MQTT.js is CommonJS; an ES `import` of it
 * has Node scan its exports (cjs-module-lexer, following build/index.js's `__exportStar`
 * re-exports) on top of running it: in a bare `node` that costs 7 MB more RSS than require()
 * (59.8 against 52.3 MB; V8's peak malloc 11.8 against 1.0 MB), kept for the life of the daemon
 * (issue #11, BENCHMARKS.md "Idle RSS"). The same module object either way, so behaviour is
 * unchanged; the types still come from the package.
 */
import { createRequire } from 'node:module';
import type * as Mqtt from 'mqtt';

export const mqtt = createRequire(import.meta.url)('mqtt') as typeof Mqtt;
