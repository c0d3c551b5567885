import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SysfsPowerSupply } from './sysfs-power-supply.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function standIn(opts: ConstructorParameters<typeof SysfsPowerSupply>[0] = {}): SysfsPowerSupply {
  const s = new SysfsPowerSupply(opts);
  cleanups.push(() => s.close());
  return s;
}

const attr = (s: SysfsPowerSupply, ...p: string[]) => readFileSync(join(s.root, ...p), 'utf8');

describe('SysfsPowerSupply', () => {
  it('lays out a battery, a mains supply and a CPU thermal zone like sysfs', () => {
    const s = standIn({ capacity: 73, tempC: 48.5 });
    expect(attr(s, 'power_supply', 'BAT0', 'type')).toBe('Battery\n');
    expect(attr(s, 'power_supply', 'BAT0', 'capacity')).toBe('73\n');
    expect(attr(s, 'power_supply', 'BAT0', 'status')).toBe('Discharging\n');
    expect(Number(attr(s, 'power_supply', 'BAT0', 'voltage_now'))).toBe(Math.round((3.3 + 0.9 * 0.73) * 1e6));
    expect(attr(s, 'power_supply', 'AC', 'type')).toBe('Mains\n');
    expect(attr(s, 'power_supply', 'AC', 'online')).toBe('0\n');
    expect(attr(s, 'thermal', 'thermal_zone0', 'type')).toBe('cpu-thermal\n');
    expect(attr(s, 'thermal', 'thermal_zone0', 'temp')).toBe('48500\n');
    expect(s.powerSupplyRoot).toBe(join(s.root, 'power_supply'));
    expect(s.thermalRoot).toBe(join(s.root, 'thermal'));
  });

  it('charging sets mains online and the status; full at 100 %', () => {
    const s = standIn({ capacity: 99 });
    s.setCharging(true);
    expect(attr(s, 'power_supply', 'AC', 'online')).toBe('1\n');
    expect(attr(s, 'power_supply', 'BAT0', 'status')).toBe('Charging\n');
    s.setCapacity(140);
    expect(attr(s, 'power_supply', 'BAT0', 'capacity')).toBe('100\n');
    expect(attr(s, 'power_supply', 'BAT0', 'status')).toBe('Full\n');
    expect(() => s.setCapacity(Number.NaN)).toThrow(/capacity must be a number/);
  });

  it('replaces files by rename (a new inode each write) and leaves no temp files', () => {
    const s = standIn();
    const path = join(s.root, 'power_supply', 'BAT0', 'capacity');
    const before = statSync(path).ino;
    s.setCapacity(42);
    expect(statSync(path).ino).not.toBe(before);
    expect(readdirSync(join(s.root, 'power_supply', 'BAT0')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a reader racing the writer never sees an empty or partial capacity', async () => {
    const s = standIn({ capacity: 100 });
    const path = join(s.root, 'power_supply', 'BAT0', 'capacity');
    const seen = new Set<string>();
    let writing = true;
    const reader = (async () => {
      while (writing) seen.add(await readFile(path, 'utf8'));
    })();
    for (let i = 0; i < 150; i++) {
      s.setCapacity(i % 2 === 0 ? 5 : 100);
      await new Promise<void>((r) => setImmediate(r));
    }
    writing = false;
    await reader;
    for (const v of seen) expect(['5\n', '100\n']).toContain(v);
  });

  it('drain lowers the charge over (compressed) time, announcing each step', async () => {
    const s = standIn({ capacity: 50 });
    s.drain(60, { tickMs: 5, speedup: 60 }); // 60 %/min, 60× faster: 0.3 % per 5 ms tick
    const [first] = (await once(s, 'capacity')) as [number];
    expect(first).toBe(49);
    const [second] = (await once(s, 'capacity')) as [number];
    expect(second).toBe(48);
    s.drain(0);
    expect(s.capacity).toBe(Number(attr(s, 'power_supply', 'BAT0', 'capacity')));
  });

  it('a negative drain rate charges', async () => {
    const s = standIn({ capacity: 50 });
    s.drain(-60, { tickMs: 5, speedup: 60 });
    const [next] = (await once(s, 'capacity')) as [number];
    expect(next).toBe(51);
  });

  it('close removes a tree it created, but not a root it was given', () => {
    const s = new SysfsPowerSupply();
    s.close();
    expect(existsSync(s.root)).toBe(false);
    const given = mkdtempSync(join(tmpdir(), 'nrec-given-'));
    cleanups.push(() => rmSync(given, { recursive: true, force: true }));
    const t = new SysfsPowerSupply({ root: given });
    t.close();
    expect(existsSync(join(given, 'power_supply', 'BAT0', 'capacity'))).toBe(true);
  });
});
