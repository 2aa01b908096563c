import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../../../src/lib/heap-growth.js';

describe('heapGrowthFlag', () => {
  it('caps the heap growth when the user set nothing', () => {
    expect(heapGrowthFlag([], undefined)).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(heapGrowthFlag(['--enable-source-maps'], '--max-old-space-size=64')).toBe(
      `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    );
  });

  it("keeps the user's own setting, from the command line or NODE_OPTIONS", () => {
    expect(heapGrowthFlag(['--heap-growing-percent=0'], undefined)).toBeUndefined();
    expect(heapGrowthFlag([], '--max-old-space-size=64 --heap_growing_percent=200')).toBeUndefined();
  });
});
