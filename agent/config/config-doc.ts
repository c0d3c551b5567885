import type { TSchema } from '@sinclair/typebox';
import { AgentConfig } from './schema.js';

function typeOf(s: TSchema): string {
  if (s.anyOf) return (s.anyOf as TSchema[]).map(typeOf).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === 'integer' || s.type === 'number') {
    const range = [s.minimum !== undefined ? `≥ ${s.minimum}` : '', s.maximum !== undefined ? `≤ ${s.maximum}` : ''].filter(Boolean).join(', ');
    return range ? `${s.type} (${range})` : String(s.type);
  }
  if (s.type === 'string' && s.pattern) return `string \`${String(s.pattern).replaceAll('|', '\\|')}\``;
  return String(s.type ?? 'any');
}

/** The configuration reference (Markdown), generated from the schema so it cannot drift from the code. */
export function configReference(): string {
  const rows: string[] = [];
  const walk = (schema: TSchema, prefix: string) => {
    const props = (schema.properties ?? {}) as Record<string, TSchema>;
    for (const [k, v] of Object.entries(props)) {
      const path = prefix ? `${prefix}.${k}` : k;
      if (v.type === 'object' && v.properties) {
        walk(v, path);
        continue;
      }
      const required = (schema.required as string[] | undefined)?.includes(k) === true;
      const def = v.default === undefined ? (required ? '**required**' : '—') : `\`${JSON.stringify(v.default)}\``;
      rows.push(`| \`${path}\` | ${typeOf(v)} | ${def} | ${String(v.description ?? '')} |`);
    }
  };
  walk(AgentConfig, '');
  return [
    '# Agent configuration reference',
    '',
    'Generated from `agent/config/schema.ts` by `npm run gen:docs`; a test fails when this file is stale.',
    'The agent reads one JSON file (`nrec agent --config FILE`, default `/etc/nrec/config.json`). Only `deviceId` is required;',
    'every other option has a default that works on a Pi and in the simulator. An invalid file stops the agent with exit code 2 and',
    'one message listing every problem with its path, e.g. `/gps/baudRate: expected an integer ≥ 1200, ≤ 921600 or "auto" (got "fast")`.',
    'Besides each field\'s type, the whole file is checked: `mqtt.url` must be `mqtt://`, `mqtts://`, `ws://` or `wss://`;',
    '`mqtt.backoffMinMs` ≤ `mqtt.backoffMaxMs` and `transport.bulkMinKbps` ≤ `transport.bulkMaxKbps`; `mqtt.certFile` and',
    '`mqtt.keyFile` go together and need a TLS URL, as does `mqtt.caFile`; every file named must be readable; the `sysfs` button',
    'backend takes line offsets (17), not names (`GPIO17`). Secrets are never in this file: `mqtt.passwordFile` and `mqtt.keyFile`',
    'point to files (mode 0600).',
    '',
    '| option | type | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
