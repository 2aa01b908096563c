/**
 * The queue's storage: messages packed as they arrive. Payloads are copied into shared byte chunks
 * and the other fields into typed arrays, so a queued message keeps only its topic string and its
 * settle function on the JS heap (not even that when its source gave a shared `settler` and a token). The message object, the payload's Buffer view and the socket chunk
 * behind it die young, in the first scavenge; before this they lived until their batch committed, long
 * enough to be copied by several scavenges and promoted to the old generation (at QoS 0 the main
 * thread's GC paused it 3× longer than the bare transport's; BENCHMARKS.md, "Main thread, stop 21").
 *
 * A ring of slots indexed by an absolute sequence number (seq & mask), grown by doubling: the queue's
 * count bound may be overshot by one message per blocked producer, so it is not a fixed capacity.
 */
import type {
  InboundMessage,
  MessageBatch,
  PackedMessages,
  QoS,
  Settlement,
  Settler,
} from '../lib/message.js';
import { allocPacked, FLAG_DUP, FLAG_RETAIN } from '../lib/message.js';

type Settle = (how: Settlement) => void;

/** A message's `settle` (token NaN) or its source's shared `settler` (token a number). */
type SettleFn = Settle | Settler;

function settleOne(fn: SettleFn, token: number, how: Settlement): void {
  if (Number.isNaN(token)) (fn as Settle)(how);
  else (fn as Settler)(token, how);
}

/** Payload bytes per chunk (fewer when the queue's byte bound is smaller): a few dozen allocations a second at full speed. */
export const CHUNK_BYTES = 256 * 1024;
const INITIAL_SLOTS = 256;
/**
 * An emptied ring larger than this starts over at INITIAL_SLOTS: a burst above the default count
 * bound (10000) does not keep its slots forever, and the default never reallocates in steady flow.
 */
const KEEP_SLOTS = 16384;

interface Chunk {
  readonly bytes: Uint8Array;
  used: number;
  /** Sequence number after the last message whose payload is in this chunk. */
  end: number;
}

export class MessageRing {
  private mask = INITIAL_SLOTS - 1;
  private head = 0;
  private tail = 0;
  private topics: (string | undefined)[] = new Array(INITIAL_SLOTS);
  private settles: (SettleFn | undefined)[] = new Array(INITIAL_SLOTS);
  /** NaN: settles[i] is the message's own settle; else the token to pass its shared settler. */
  private tokens = new Float64Array(INITIAL_SLOTS);
  private qos = new Uint8Array(INITIAL_SLOTS);
  private flags = new Uint8Array(INITIAL_SLOTS);
  private receivedAt = new Float64Array(INITIAL_SLOTS);
  private receivedMono = new Float64Array(INITIAL_SLOTS);
  private enqueuedMono = new Float64Array(INITIAL_SLOTS);
  /** What each message counts against the byte bound. */
  private bytes = new Float64Array(INITIAL_SLOTS);
  /** Where each payload is: chunk (absolute number), offset in it, length. */
  private chunkNo = new Float64Array(INITIAL_SLOTS);
  private offset = new Uint32Array(INITIAL_SLOTS);
  private size = new Uint32Array(INITIAL_SLOTS);
  /** Chunks in use, oldest first; chunks[0] has the absolute number firstChunk. */
  private chunks: Chunk[] = [];
  private firstChunk = 0;
  /** One emptied chunk kept for the next, so a steady flow allocates none. */
  private spare: Chunk | undefined;

  constructor(private readonly chunkBytes: number = CHUNK_BYTES) {}

  get length(): number {
    return this.tail - this.head;
  }

  /** Slots allocated (tests). */
  get capacity(): number {
    return this.mask + 1;
  }

  oldestEnqueuedMono(): number | undefined {
    return this.head === this.tail ? undefined : this.enqueuedMono[this.head & this.mask];
  }

  oldestQos(): QoS | undefined {
    return this.head === this.tail ? undefined : (this.qos[this.head & this.mask] as QoS);
  }

  push(msg: InboundMessage, bytes: number, enqueuedMono: number): void {
    if (this.tail - this.head > this.mask) this.grow();
    const seq = this.tail;
    const i = seq & this.mask;
    this.topics[i] = msg.topic;
    if (msg.settler !== undefined && msg.token !== undefined) {
      this.settles[i] = msg.settler;
      this.tokens[i] = msg.token;
    } else {
      this.settles[i] = msg.settle;
      this.tokens[i] = Number.NaN;
    }
    this.qos[i] = msg.qos;
    this.flags[i] = (msg.retain ? FLAG_RETAIN : 0) | (msg.dup ? FLAG_DUP : 0);
    this.receivedAt[i] = msg.receivedAt;
    this.receivedMono[i] = msg.receivedMono;
    this.enqueuedMono[i] = enqueuedMono;
    this.bytes[i] = bytes;
    const len = msg.payload.length;
    const chunk = this.chunkFor(len);
    chunk.bytes.set(msg.payload, chunk.used);
    this.chunkNo[i] = this.firstChunk + this.chunks.length - 1;
    this.offset[i] = chunk.used;
    this.size[i] = len;
    chunk.used += len;
    chunk.end = seq + 1;
    this.tail = seq + 1;
  }

  /** Removes the oldest message; returns what it counted, its topic and its settle function. */
  shift(): { bytes: number; topic: string; settle: Settle } {
    const i = this.head & this.mask;
    const fn = this.settles[i] as SettleFn;
    const token = this.tokens[i] as number;
    const out = {
      bytes: this.bytes[i] as number,
      topic: this.topics[i] as string,
      settle: (how: Settlement) => settleOne(fn, token, how),
    };
    this.clear(i);
    this.head++;
    this.release();
    return out;
  }

  /** Removes the oldest `n` messages (n ≤ length) as one batch; returns it and what they counted. */
  take(n: number): { batch: MessageBatch; bytes: number } {
    let total = 0;
    let bytes = 0;
    for (let s = this.head; s < this.head + n; s++) {
      const i = s & this.mask;
      total += this.size[i] as number;
      bytes += this.bytes[i] as number;
    }
    const { packed, receivedMono } = allocPacked(n, total);
    const { topics, payload, offsets, qos, flags, receivedAt } = packed;
    const settles: SettleFn[] = new Array(n);
    const tokens = new Float64Array(n);
    let pos = 0;
    // Payloads of consecutive messages in one chunk are contiguous: one copy per run.
    let runChunk = -1;
    let runFrom = 0;
    let runTo = 0;
    let runAt = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.head + k) & this.mask;
      topics[k] = this.topics[i] as string;
      settles[k] = this.settles[i] as SettleFn;
      tokens[k] = this.tokens[i] as number;
      qos[k] = this.qos[i] as number;
      flags[k] = this.flags[i] as number;
      receivedAt[k] = this.receivedAt[i] as number;
      receivedMono[k] = this.receivedMono[i] as number;
      offsets[k] = pos;
      const c = this.chunkNo[i] as number;
      const off = this.offset[i] as number;
      if (c !== runChunk || off !== runTo) {
        this.copyRun(payload, runAt, runChunk, runFrom, runTo);
        runChunk = c;
        runFrom = off;
        runAt = pos;
      }
      const len = this.size[i] as number;
      runTo = off + len;
      pos += len;
      this.clear(i);
    }
    this.copyRun(payload, runAt, runChunk, runFrom, runTo);
    offsets[n] = pos;
    this.head += n;
    this.release();
    return { batch: new TakenBatch(packed, receivedMono, settles, tokens), bytes };
  }

  private copyRun(into: Uint8Array, at: number, chunk: number, from: number, to: number): void {
    if (chunk < 0 || to === from) return;
    const c = this.chunks[chunk - this.firstChunk] as Chunk;
    into.set(c.bytes.subarray(from, to), at);
  }

  private clear(i: number): void {
    // Drop the references so the ring does not keep taken topics and closures alive.
    this.topics[i] = undefined;
    this.settles[i] = undefined;
  }

  private chunkFor(len: number): Chunk {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.used + len <= last.bytes.length) return last;
    let chunk: Chunk;
    if (len <= this.chunkBytes && this.spare !== undefined) {
      chunk = this.spare;
      this.spare = undefined;
      chunk.used = 0;
    } else {
      chunk = { bytes: new Uint8Array(Math.max(this.chunkBytes, len)), used: 0, end: 0 };
    }
    this.chunks.push(chunk);
    return chunk;
  }

  /** Frees the chunks whose messages have all left; an emptied queue reuses its last chunk. */
  private release(): void {
    if (this.head === this.tail && this.mask + 1 > KEEP_SLOTS) this.resize(INITIAL_SLOTS);
    for (;;) {
      const first = this.chunks[0];
      if (first === undefined || first.end > this.head) return;
      if (this.chunks.length === 1) {
        first.used = 0; // empty queue: start the chunk over
        return;
      }
      this.chunks.shift();
      this.firstChunk++;
      if (first.bytes.length === this.chunkBytes) this.spare = first;
    }
  }

  private grow(): void {
    this.resize((this.mask + 1) * 2);
  }

  /** Moves the queued messages into rings of `cap` slots (a power of 2, at least length). */
  private resize(cap: number): void {
    const mask = cap - 1;
    const move = <T extends { length: number; [i: number]: unknown }>(from: T, to: T): T => {
      for (let s = this.head; s < this.tail; s++) to[s & mask] = from[s & this.mask];
      return to;
    };
    this.topics = move(this.topics, new Array(cap));
    this.settles = move(this.settles, new Array(cap));
    this.tokens = move(this.tokens, new Float64Array(cap));
    this.qos = move(this.qos, new Uint8Array(cap));
    this.flags = move(this.flags, new Uint8Array(cap));
    this.receivedAt = move(this.receivedAt, new Float64Array(cap));
    this.receivedMono = move(this.receivedMono, new Float64Array(cap));
    this.enqueuedMono = move(this.enqueuedMono, new Float64Array(cap));
    this.bytes = move(this.bytes, new Float64Array(cap));
    this.chunkNo = move(this.chunkNo, new Float64Array(cap));
    this.offset = move(this.offset, new Uint32Array(cap));
    this.size = move(this.size, new Uint32Array(cap));
    this.mask = mask;
  }
}

class TakenBatch implements MessageBatch {
  constructor(
    readonly packed: PackedMessages,
    readonly receivedMono: Float64Array,
    private readonly settles: SettleFn[],
    private readonly tokens: Float64Array,
  ) {}

  get length(): number {
    return this.settles.length;
  }

  settle(from: number, to: number, how: Settlement): void {
    for (let i = from; i < to; i++) settleOne(this.settles[i] as SettleFn, this.tokens[i] as number, how);
  }
}
