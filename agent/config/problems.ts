import { accessSync, constants } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import type { ValueError } from '@sinclair/typebox/value';
import { deviceIdProblem } from '../../protocol/topics.js';

/** One thing wrong with a configuration: where (a JSON pointer such as /gps/baudRate) and what to do about it. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Broker URL schemes the agent's transport can connect with. */
export const MQTT_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'] as const;

/** A schema error in words: a union names its alternatives instead of "Expected union value". */
export function schemaProblem(e: ValueError): ConfigProblem {
  const path = e.path === '' ? '(root)' : e.path;
  const shown = e.value === undefined ? '' : ` (got ${JSON.stringify(e.value)?.slice(0, 80)})`;
  const s = e.schema as TSchema;
  // The device id pattern is unreadable as a regular expression: say which rule it breaks.
  const idRule = path === '/deviceId' && typeof e.value === 'string' ? deviceIdProblem(e.value) : undefined;
  const message = idRule ?? (s.anyOf ? `expected ${(s.anyOf as TSchema[]).map(describe).join(' or ')}` : e.message);
  return { path, message: `${message}${shown}` };
}

function describe(s: TSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === 'integer' || s.type === 'number') {
    const range = [s.minimum !== undefined ? `≥ ${s.minimum}` : '', s.maximum !== undefined ? `≤ ${s.maximum}` : ''].filter(Boolean).join(', ');
    return range ? `an ${s.type} ${range}` : `a ${s.type}`;
  }
  return `a ${String(s.type ?? 'value')}`;
}

type Section = Record<string, unknown>;
const section = (c: Section, name: string): Section => {
  const v = c[name];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Section) : {};
};

/**
 * Rules that span fields or reach outside the file (secret files must be
 * readable). Runs on the config with defaults filled; a field of the wrong
 * type is the schema's to report, so each rule looks only at well-typed values.
 */
export function crossFieldProblems(c: Section, fileReadable: (path: string) => string | undefined = readable): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const mqtt = section(c, 'mqtt');
  if (typeof mqtt.url === 'string') {
    let url: URL | undefined;
    try {
      url = new URL(mqtt.url);
    } catch {
      out.push({ path: '/mqtt/url', message: `${JSON.stringify(mqtt.url)} is not a URL; write it as mqtt://HOST:1883 or mqtts://HOST:8883` });
    }
    if (url !== undefined && !(MQTT_SCHEMES as readonly string[]).includes(url.protocol)) {
      out.push({ path: '/mqtt/url', message: `scheme ${JSON.stringify(url.protocol)} is not one the agent speaks: use ${MQTT_SCHEMES.map((s) => `${s}//`).join(', ')}` });
    } else if (url !== undefined && url.hostname === '') {
      out.push({ path: '/mqtt/url', message: `${JSON.stringify(mqtt.url)} names no host` });
    }
    const tls = url !== undefined && (url.protocol === 'mqtts:' || url.protocol === 'wss:');
    if (url !== undefined && !tls) {
      for (const f of ['caFile', 'certFile', 'keyFile'] as const) {
        if (typeof mqtt[f] === 'string') out.push({ path: `/mqtt/${f}`, message: `is set but ${url.protocol}// does not use TLS: use mqtts:// (or wss://), or remove it` });
      }
    }
  }
  if (typeof mqtt.backoffMinMs === 'number' && typeof mqtt.backoffMaxMs === 'number' && mqtt.backoffMinMs > mqtt.backoffMaxMs) {
    out.push({ path: '/mqtt/backoffMinMs', message: `${mqtt.backoffMinMs} is above /mqtt/backoffMaxMs (${mqtt.backoffMaxMs}): the first reconnect delay cannot exceed the largest` });
  }
  if ((typeof mqtt.certFile === 'string') !== (typeof mqtt.keyFile === 'string')) {
    const [has, lacks] = typeof mqtt.certFile === 'string' ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
    out.push({ path: `/mqtt/${lacks}`, message: `is required with /mqtt/${has}: a client certificate needs its private key` });
  }
  for (const f of ['passwordFile', 'caFile', 'certFile', 'keyFile'] as const) {
    if (typeof mqtt[f] !== 'string') continue;
    const why = fileReadable(mqtt[f]);
    if (why !== undefined) out.push({ path: `/mqtt/${f}`, message: `${mqtt[f]} ${why}` });
  }

  const t = section(c, 'transport');
  if (typeof t.bulkMinKbps === 'number' && typeof t.bulkMaxKbps === 'number' && t.bulkMinKbps > t.bulkMaxKbps) {
    out.push({ path: '/transport/bulkMinKbps', message: `${t.bulkMinKbps} is above /transport/bulkMaxKbps (${t.bulkMaxKbps})` });
  }

  const b = section(c, 'button');
  if (b.backend === 'sysfs') {
    for (const f of ['line', 'feedbackLine'] as const) {
      const v = b[f];
      if (typeof v !== 'string' || /^\d+$/.test(v)) continue;
      const offset = /^GPIO(\d+)$/i.exec(v)?.[1];
      const hint = offset === undefined ? 'the line offset on the chip' : `${offset} (a Raspberry Pi's ${v} is offset ${offset} on gpiochip0)`;
      out.push({ path: `/button/${f}`, message: `the sysfs backend takes a line offset, not the name ${JSON.stringify(v)}: set it to ${hint}, or use "backend": "gpiod", which resolves names` });
    }
  }
  return out;
}

/** Why a file cannot be read, or undefined when it can. */
function readable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'does not exist';
    if (code === 'EACCES') return `is not readable by this user (uid ${process.getuid?.() ?? '?'})`;
    return `cannot be read (${code ?? (err as Error).message})`;
  }
}
