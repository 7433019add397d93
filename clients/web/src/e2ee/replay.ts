// Replay detection with bounded memory (docs/e2ee.md section 8).
import { E2EEError } from './errors';
import { Decoder, Encoder, VERSION, compareBytes, toHex } from './wire';

export const DEFAULT_REPLAY_CAPACITY = 100_000;

interface Entry {
  id: Uint8Array;
  ms: number;
}

function compareEntries(a: Entry, b: Entry): number {
  return a.ms - b.ms || compareBytes(a.id, b.id);
}

/**
 * ReplayGuard remembers accepted message ids. When full it evicts the entry
 * with the oldest time (then the smallest id) and raises a floor to its time;
 * messages at or below the floor are rejected as replay_window. Accept only
 * headers of messages that open() accepted.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private heap: Entry[] = [];
  private floor = 0;
  private hasFloor = false;
  private readonly capacity: number;

  constructor(capacity = DEFAULT_REPLAY_CAPACITY) {
    this.capacity = Math.max(1, Math.floor(capacity));
  }

  get size(): number {
    return this.seen.size;
  }

  /** accept records a message id; it throws replay or replay_window. */
  accept(messageId: Uint8Array, timeMs: number): void {
    const key = toHex(messageId);
    if (this.seen.has(key)) throw new E2EEError('replay', `message ${key}`);
    if (this.hasFloor && timeMs <= this.floor) {
      throw new E2EEError('replay_window', `message ${key} at ${timeMs} ms, floor ${this.floor} ms`);
    }
    this.seen.set(key, timeMs);
    this.push({ id: messageId.slice(), ms: timeMs });
    this.evict();
  }

  private evict(): void {
    while (this.seen.size > this.capacity) {
      const oldest = this.pop();
      this.seen.delete(toHex(oldest.id));
      if (!this.hasFloor || oldest.ms > this.floor) {
        this.floor = oldest.ms;
        this.hasFloor = true;
      }
    }
  }

  /** marshal encodes the state, entries sorted by time then id. */
  marshal(): Uint8Array {
    const entries = [...this.heap].sort(compareEntries);
    const e = new Encoder(16 + 24 * entries.length).u8(VERSION).u8(this.hasFloor ? 1 : 0).u64(this.floor).u32(entries.length);
    for (const entry of entries) e.raw(entry.id).u64(entry.ms);
    return e.bytes();
  }

  /** load replaces the state with marshal output. */
  load(b: Uint8Array): void {
    const d = new Decoder(b);
    const v = d.u8('replay state version');
    if (v !== VERSION) throw new E2EEError('unsupported_version', `replay state version ${v}`);
    const hasFloor = d.u8('replay floor flag');
    const floor = d.u64('replay floor');
    const count = d.u32('replay entry count');
    if (count > d.remaining / 24) throw new E2EEError('malformed', `replay state claims ${count} entries`);
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) entries.push({ id: d.read(16, 'replay message id').slice(), ms: d.u64('replay time') });
    d.finish('replay state');
    if (hasFloor > 1) throw new E2EEError('malformed', `replay floor flag ${hasFloor}`);
    this.seen.clear();
    this.heap = [];
    this.floor = floor;
    this.hasFloor = hasFloor === 1;
    for (const entry of entries) {
      const key = toHex(entry.id);
      if (this.seen.has(key)) continue;
      this.seen.set(key, entry.ms);
      this.push(entry);
    }
    this.evict();
  }

  private push(entry: Entry): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareEntries(h[i], h[parent]) >= 0) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && compareEntries(h[l], h[m]) < 0) m = l;
        if (r < h.length && compareEntries(h[r], h[m]) < 0) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
