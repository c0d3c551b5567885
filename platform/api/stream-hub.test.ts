import { describe, expect, it } from 'vitest';
import { StreamHub } from './stream-hub.js';

describe('StreamHub', () => {
  it('numbers events, fans them out and replays what a client missed', () => {
    const hub = new StreamHub({ epoch: 'e1' });
    const seen: string[] = [];
    const off = hub.subscribe((e) => seen.push(e.id));
    const a = hub.publish('position', { n: 1 });
    hub.publish('alarm', { n: 2 });
    hub.publish('device', { n: 3 });
    off();
    hub.publish('health', { n: 4 });
    expect(seen).toEqual(['e1-1', 'e1-2', 'e1-3']);
    expect(hub.replay(a.id)?.map((e) => e.event)).toEqual(['alarm', 'device', 'health']);
    expect(hub.replay('e1-4')).toEqual([]);
  });

  it('cannot resume across a restart (another epoch), a future id, or past the buffer', () => {
    let now = 0;
    const hub = new StreamHub({ epoch: 'e2', bufferEvents: 3, bufferMs: 1000, now: () => now });
    for (let i = 0; i < 5; i++) hub.publish('position', i);
    expect(hub.replay('other-1')).toBeUndefined();
    expect(hub.replay('e2-9')).toBeUndefined();
    expect(hub.replay('not an id')).toBeUndefined();
    // Held: 3, 4, 5. After 2 the client misses nothing; after 1 it missed event 2.
    expect(hub.replay('e2-2')?.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(hub.replay('e2-1')).toBeUndefined();
    now = 2000;
    expect(hub.replay('e2-4')).toBeUndefined();
    expect(hub.replay('e2-5')).toEqual([]);
  });
});
