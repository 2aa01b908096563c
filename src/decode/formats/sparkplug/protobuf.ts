/**
 * @bufbuild/protobuf, loaded at the first Sparkplug payload rather than at start (issue #11, idle
 * RSS): its runtime costs ~10 MB in a bare process, and the default presets include Sparkplug, so
 * every daemon paid for it even with no Sparkplug device. Through require, which is synchronous
 * like a decode: the package ships a CommonJS build. Everything of ours that builds or reads
 * Sparkplug protobuf goes through these, so descriptors and messages come from one copy of it.
 */
import { createRequire } from 'node:module';
import type * as Protobuf from '@bufbuild/protobuf';
import type * as Wkt from '@bufbuild/protobuf/wkt';

const requireLib = createRequire(import.meta.url);

let runtime: typeof Protobuf | undefined;
let wellKnown: typeof Wkt | undefined;

export function protobuf(): typeof Protobuf {
  runtime ??= requireLib('@bufbuild/protobuf') as typeof Protobuf;
  return runtime;
}

export function protobufWkt(): typeof Wkt {
  wellKnown ??= requireLib('@bufbuild/protobuf/wkt') as typeof Wkt;
  return wellKnown;
}
