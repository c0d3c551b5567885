import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/logger.js';
import { Cleanup } from '../../../test/support/cleanup.js';
import { makeTempDir } from '../../../test/support/temp.js';
import { ContactsError, loadContacts, parseContacts, type ReadSecret } from './load.js';
import { ContactsFile } from './schema.js';
import { ContactsWatch } from './watch.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const secrets = async () => ({ text: '{"user":"u","pass":"p","token":"t","password":"pw"}', mode: 0o600 });
const webhookSecret = async () => ({ text: 'a-secret-of-32-bytes-for-signing', mode: 0o600 });

async function problems(cfg: unknown, readSecret: ReadSecret = secrets): Promise<string[]> {
  try {
    await parseContacts(JSON.stringify(cfg), '/etc/nrec/contacts.json', { readSecret });
  } catch (err) {
    if (err instanceof ContactsError) return err.problems;
    throw err;
  }
  return [];
}

const one = { contacts: { a: { name: 'A', channels: [{ type: 'console' }] } }, escalation: { tiers: [{ contacts: ['a'] }] } };

describe('contacts file', () => {
  it('reports every schema problem at once, each with its JSON path', async () => {
    expect(await problems({
      contacts: { 'bad id': { name: 'x', channels: [] }, b: { name: '', channels: [{ type: 'pager' }] } },
      escalation: { tiers: [{ contacts: ['b'], delayS: 0 }], repeat: 5 },
      extra: true,
    })).toEqual([
      '/contacts/b/channels/0/type: must be one of "webhook", "email", "sms", "console" (got "pager")',
      '/contacts/b/name: Expected string length greater or equal to 1 (got "")',
      '/contacts/bad id: Unexpected property',
      '/escalation/repeat: Unexpected property (got 5)',
      '/escalation/tiers/0/delayS: Expected number to be greater or equal to 0.5 (got 0)',
      '/extra: Unexpected property (got true)',
    ]);
    expect(await problems('x')).toEqual(['(root): Expected object (got "x")']);
  });

  it('reports every cross-reference and channel problem at once, naming the path', async () => {
    const readSecret = async (p: string) => {
      if (p.endsWith('missing.secret')) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      if (p.endsWith('short.secret')) return { text: 'short', mode: 0o600 };
      return secrets();
    };
    expect(await problems({
      channels: { sms: { url: 'https://gw.example/send?key={credentials.apikey}', body: '{"to":"{to}","msg":"{txt}"}', credentialsFile: 'sms.json' } },
      contacts: {
        a: { name: 'A', channels: [{ type: 'webhook', url: 'https://h.example/x', secretFile: 'missing.secret' }, { type: 'email', to: 'a@example.org' }, { type: 'sms', to: '1234' }] },
        b: { name: 'B', channels: [{ type: 'webhook', url: 'https://h.example/y' }, { type: 'webhook', url: 'https://h.example/z', secretFile: 'short.secret' }, { type: 'console', to: 'x@y' }] },
      },
      escalation: { tiers: [{ contacts: ['a', 'zed'] }] },
      groups: { g1: { devices: ['ward-*'], escalation: { tiers: [{ contacts: ['b'] }] } }, g2: { devices: ['ward-*'], escalation: { tiers: [{ contacts: ['nobody'] }] } } },
      devices: { d1: { group: 'g3' } },
    }, readSecret)).toEqual([
      '/channels/sms: the url, headers or body must use both {to} and {text}',
      '/channels/sms/body: unknown placeholder {txt}; known: {to}, {text}, {deviceId}, {deviceName}, {alarmId}, {key}, {mapUrl}, {basicAuth}, {credentials.NAME}',
      '/channels/sms/url: {credentials.apikey}: the credentials file has no "apikey"',
      '/contacts/a/channels/0/secretFile: cannot read /etc/nrec/missing.secret: ENOENT',
      '/contacts/a/channels/1: email is used but /channels/email (the SMTP server) is not configured',
      '/contacts/a/channels/2/to: an sms channel needs a phone number in international format (+4915112345678)',
      '/contacts/b/channels/0: a webhook needs a signing secret: give secretFile here or in /channels/webhook/secretFile',
      '/contacts/b/channels/1/secretFile: the secret in /etc/nrec/short.secret is shorter than 16 bytes',
      '/contacts/b/channels/2/to: not used by a console channel',
      '/devices/d1/group: no group "g3" in /groups',
      '/escalation/tiers/0/contacts/1: no contact "zed" in /contacts',
      '/groups/g2/devices/0: "ward-*" is also listed by group g1; a device belongs to one group',
      '/groups/g2/escalation/tiers/0/contacts/0: no contact "nobody" in /contacts',
    ]);
  });

  it('finds each device\'s escalation: its own, its group, the group listing it (exact before the longest prefix), the default', async () => {
    const tier = (c: string) => ({ tiers: [{ contacts: [c] }] });
    const b = await parseContacts(JSON.stringify({
      contacts: { a: { name: 'A', channels: [{ type: 'console' }] }, b: { name: 'B', channels: [{ type: 'console' }] } },
      escalation: tier('a'),
      groups: { wide: { devices: ['w-*'], escalation: tier('a') }, narrow: { devices: ['w-3-*', 'x-1'], escalation: tier('b') }, named: { escalation: tier('b') } },
      devices: { 'w-3-9': { name: 'Nurse Nine', escalation: tier('a') }, 'y-1': { group: 'named' } },
    }), '/c.json');
    const src = (d: string) => b.escalationFor(d)?.source;
    expect(['w-3-9', 'w-3-1', 'w-1', 'x-1', 'y-1', 'z'].map(src)).toEqual(['device w-3-9', 'group narrow', 'group wide', 'group narrow', 'group named', 'default']);
    expect(b.escalationFor('z')?.tiers[0]).toEqual({ delayMs: 60_000, contacts: [{ id: 'a', name: 'A', targets: [{ channel: 'console' }] }] });
    expect(b.escalationFor('z')?.repeatMs).toBe(120_000);
    expect([b.displayName('w-3-9'), b.displayName('z')]).toEqual(['Nurse Nine', 'z']);
    const none = await parseContacts(JSON.stringify({ contacts: {} }), '/c.json');
    expect(none.escalationFor('z')).toBeUndefined();
  });

  it('loads the sample file (its secrets aside), and warns about a secret others may read', async () => {
    const text = await readFile(new URL('../../../scripts/config/contacts.sample.json', import.meta.url), 'utf8');
    const b = await parseContacts(text, '/etc/nrec/contacts.json', { readSecret: async (p) => (p.endsWith('.secret') ? webhookSecret() : { ...(await secrets()), mode: 0o644 }) });
    expect(b.escalationFor('ward3-007')?.source).toBe('group ward3');
    expect(b.escalationFor('sim-001')?.tiers).toHaveLength(3);
    expect(b.escalationFor('other')?.source).toBe('default');
    expect(b.warnings).toEqual([
      '/channels/email/credentialsFile: /etc/nrec/secrets/smtp.json may be read by others (mode 644); make it 0600',
      '/channels/sms/credentialsFile: /etc/nrec/secrets/sms.json may be read by others (mode 644); make it 0600',
    ]);
    expect(JSON.stringify(b.summary())).not.toMatch(/secret|token|@example/);
  });

  it('reloads a changed file, and keeps the previous configuration when the new one is bad', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-contacts-'), (d) => d.remove());
    const file = dir.file('contacts.json');
    await writeFile(file, JSON.stringify(one));
    const lines: string[] = [];
    const logger = createLogger('test', { level: 'info', destination: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream });
    const w = cleanup.add(await ContactsWatch.open(file, { logger, statIntervalMs: 50 }), (x) => x.close());
    expect(w.current.escalationFor('d')?.tiers[0].delayMs).toBe(60_000);

    const reloaded = once(w, 'reload');
    // Replaced by rename, as editors and config management do.
    await writeFile(`${file}.tmp`, JSON.stringify({ ...one, escalation: { tiers: [{ contacts: ['a'], delayS: 5 }] } }));
    await rename(`${file}.tmp`, file);
    await reloaded;
    expect(w.current.escalationFor('d')?.tiers[0].delayMs).toBe(5000);

    const invalid = once(w, 'invalid');
    await writeFile(file, JSON.stringify({ ...one, escalation: { tiers: [{ contacts: ['ghost'] }] }, devices: { d: { group: 'nope' } } }));
    const [err] = (await invalid) as [ContactsError];
    expect(err.problems).toEqual(['/devices/d/group: no group "nope" in /groups', '/escalation/tiers/0/contacts/0: no contact "ghost" in /contacts']);
    expect(w.current.escalationFor('d')?.tiers[0].delayMs).toBe(5000);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; problems?: string[] }).find((l) => l.msg.includes('keeping the previous configuration'));
    expect(logged?.problems).toEqual(err.problems);

    const again = once(w, 'reload');
    await writeFile(file, 'not json');
    await writeFile(file, JSON.stringify(one));
    await again;
    expect(w.current.escalationFor('d')?.tiers[0].delayMs).toBe(60_000);
  });

  it('is documented: every key of the schema appears in docs/alarm-desk.md', async () => {
    const doc = await readFile(new URL('../../../docs/alarm-desk.md', import.meta.url), 'utf8');
    const keys = new Set<string>();
    const walk = (s: unknown): void => {
      if (typeof s !== 'object' || s === null) return;
      const o = s as { properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[]; patternProperties?: Record<string, unknown> };
      for (const [k, v] of Object.entries(o.properties ?? {})) {
        if (k !== '$schema') keys.add(k);
        walk(v);
      }
      for (const v of Object.values(o.patternProperties ?? {})) walk(v);
      walk(o.items);
      for (const v of o.anyOf ?? []) walk(v);
    };
    walk(ContactsFile);
    expect([...keys].filter((k) => !doc.includes(`\`${k}\``) && !new RegExp(`[.\`]${k}\\b`).test(doc))).toEqual([]);
  });

  it('refuses to start with a bad or missing file, naming it', async () => {
    const dir = cleanup.add(await makeTempDir('nrec-contacts-'), (d) => d.remove());
    await expect(loadContacts(dir.file('none.json'))).rejects.toThrow(/contacts file .*none.json is invalid \(1 problem\):\n {2}\(file\): cannot read it: ENOENT/);
    await writeFile(dir.file('bad.json'), '{"contacts": ');
    await expect(loadContacts(dir.file('bad.json'))).rejects.toThrow(/\(file\): not valid JSON/);
    await writeFile(dir.file('w.secret'), 'a-secret-of-32-bytes-for-signing');
    await chmod(dir.file('w.secret'), 0o600);
    await writeFile(dir.file('ok.json'), JSON.stringify({ channels: { webhook: { secretFile: 'w.secret' } }, contacts: { a: { name: 'A', channels: [{ type: 'webhook', url: 'https://h.example/' }] } } }));
    const b = await loadContacts(dir.file('ok.json'));
    expect(b.warnings).toEqual([]);
  });
});
