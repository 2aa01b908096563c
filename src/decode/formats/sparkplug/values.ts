/**
 * Sparkplug values → numbers, by datatype (Sparkplug 3.0, payload chapter, "Datatypes").
 * - Int8/16/32 travel in the uint32 `int_value`: −12 arrives as 4294967284 and only the datatype
 *   (from the metric, or remembered from its BIRTH) restores the sign.
 * - Int64/UInt64/DateTime travel in the uint64 `long_value` (a BigInt here): exact up to ±2^53,
 *   beyond that the nearest double, as every reading is a SQLite REAL.
 * - Arrays (22–34) are packed little-endian in `bytes_value`; they flatten to `<metric>.<i>`.
 * Strings, Text, UUID, Bytes and File are not numbers: no reading (the payload is stored).
 */

export const DT = {
  Unknown: 0,
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
  PropertySet: 20,
  PropertySetList: 21,
  Int8Array: 22,
  Int16Array: 23,
  Int32Array: 24,
  Int64Array: 25,
  UInt8Array: 26,
  UInt16Array: 27,
  UInt32Array: 28,
  UInt64Array: 29,
  FloatArray: 30,
  DoubleArray: 31,
  BooleanArray: 32,
  StringArray: 33,
  DateTimeArray: 34,
} as const;

/** The oneof `value` of a Metric, DataSetValue or Parameter as @bufbuild/protobuf gives it. */
export type ScalarValue =
  | { case: 'intValue'; value: number }
  | { case: 'longValue'; value: bigint }
  | { case: 'floatValue'; value: number }
  | { case: 'doubleValue'; value: number }
  | { case: 'booleanValue'; value: boolean }
  | { case: 'stringValue'; value: string }
  | { case: 'bytesValue'; value: Uint8Array }
  | { case: undefined; value?: undefined }
  | { case: string; value: unknown };

/**
 * A scalar value as a number, using `datatype` for the sign of 32-bit and 64-bit integers; undefined
 * when the value is not a number (strings, bytes, absent). Without a datatype the wire type decides
 * (int_value unsigned, long_value unsigned): what a consumer can know without a BIRTH.
 */
export function scalarNumber(v: ScalarValue, datatype: number | undefined): number | undefined {
  switch (v.case) {
    case 'intValue': {
      const n = v.value as number;
      if (datatype === DT.Int8) return (n << 24) >> 24;
      if (datatype === DT.Int16) return (n << 16) >> 16;
      if (datatype === DT.Int32) return n | 0;
      return n >>> 0;
    }
    case 'longValue': {
      const n = v.value as bigint;
      return Number(datatype === DT.Int64 ? BigInt.asIntN(64, n) : BigInt.asUintN(64, n));
    }
    case 'floatValue':
    case 'doubleValue': {
      const n = v.value as number;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'booleanValue':
      return v.value === true ? 1 : 0;
    default:
      return undefined;
  }
}

/** The numbers packed in an array datatype's bytes, or undefined for a non-numeric or torn array. */
export function arrayNumbers(datatype: number, bytes: Uint8Array): number[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const each = (size: number, read: (at: number) => number): number[] | undefined => {
    if (bytes.byteLength % size !== 0) return undefined;
    const out = new Array<number>(bytes.byteLength / size);
    for (let i = 0; i < out.length; i++) out[i] = read(i * size);
    return out;
  };
  switch (datatype) {
    case DT.Int8Array:
      return each(1, (at) => view.getInt8(at));
    case DT.Int16Array:
      return each(2, (at) => view.getInt16(at, true));
    case DT.Int32Array:
      return each(4, (at) => view.getInt32(at, true));
    case DT.Int64Array:
    case DT.DateTimeArray:
      return each(8, (at) => Number(view.getBigInt64(at, true)));
    case DT.UInt8Array:
      return each(1, (at) => view.getUint8(at));
    case DT.UInt16Array:
      return each(2, (at) => view.getUint16(at, true));
    case DT.UInt32Array:
      return each(4, (at) => view.getUint32(at, true));
    case DT.UInt64Array:
      return each(8, (at) => Number(view.getBigUint64(at, true)));
    case DT.FloatArray:
      return each(4, (at) => view.getFloat32(at, true));
    case DT.DoubleArray:
      return each(8, (at) => view.getFloat64(at, true));
    case DT.BooleanArray: {
      // A 4-byte little-endian count, then the booleans packed 8 to a byte, first in the high bit.
      if (bytes.byteLength < 4) return undefined;
      const count = view.getUint32(0, true);
      if (Math.ceil(count / 8) > bytes.byteLength - 4) return undefined;
      const out = new Array<number>(count);
      for (let i = 0; i < count; i++) out[i] = (bytes[4 + (i >> 3)]! >> (7 - (i & 7))) & 1;
      return out;
    }
    default:
      return undefined;
  }
}

export function isArrayType(datatype: number): boolean {
  return datatype >= DT.Int8Array && datatype <= DT.DateTimeArray && datatype !== DT.StringArray;
}

/**
 * A Sparkplug timestamp → ms. 3.0 says ms; the next version allows ns (sparkplug PR #624), and
 * some edge nodes send µs: told apart by magnitude (ms reach 1e14 only in the year 5138).
 */
export function timestampMs(t: bigint): number {
  if (t > 100_000_000_000_000_000n) return Number(t / 1_000_000n);
  if (t > 100_000_000_000_000n) return Number(t / 1000n);
  return Number(t);
}
