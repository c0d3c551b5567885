import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { makeTestPki, shareWithBroker, type TestPki } from './certs.js';
import { Mosquitto } from './mosquitto.js';

/*
 * A real Mosquitto configured from the scripts/mosquitto templates, as an
 * operator would: two PKIs (devices, platform), the device ACL with
 * bulk-acl.sh's lines for the devices provisioned for uploads, the platform
 * ACL, three listeners.
 */

export const SCRIPTS = fileURLToPath(new URL('../../scripts/mosquitto/', import.meta.url));
/** The platform certificate's CN in the tests. */
export const PLATFORM_CN = 'ingest.nrec';

/** Replaces every @NAME@ placeholder; fails if one is left, so template and test cannot drift apart silently. */
export function render(template: string, values: Record<string, string>): string {
  let out = template;
  for (const [k, v] of Object.entries(values)) out = out.replaceAll(`@${k}@`, v);
  const left = out.split('\n').filter((l) => !l.startsWith('#')).join('\n').match(/@[A-Z_]+@/g);
  if (left !== null) throw new Error(`template placeholders not filled: ${left.join(', ')}`);
  return out;
}

/** The lines bulk-acl.sh prints for these device certificates. */
export function bulkAcl(certs: string[]): string {
  const r = spawnSync('sh', [`${SCRIPTS}bulk-acl.sh`, ...certs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bulk-acl.sh failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface SecureBroker {
  readonly mosquitto: Mosquitto;
  readonly devices: TestPki;
  readonly platform: TestPki;
  /** The device ACL as written (template + bulk lines). */
  readonly aclText: string;
  /** mqtts:// URLs of the three listeners. */
  readonly urls: { control: string; bulk: string; platform: string };
  dispose(): Promise<void>;
}

/** Starts the broker; `uploaders` (default: every device) get bulk ACL lines. */
export async function startSecureBroker(deviceNames: string[], uploaders = deviceNames, opts: { days?: number } = {}): Promise<SecureBroker> {
  const devices = await makeTestPki(deviceNames, opts);
  const platform = await makeTestPki([PLATFORM_CN]).catch(async (err: Error) => {
    await devices.remove();
    throw err;
  });
  try {
    const aclText = (await readFile(`${SCRIPTS}acl.template`, 'utf8')) + bulkAcl(uploaders.map((n) => devices.clients[n].cert));
    const aclFile = devices.dir.file('acl');
    const platformAclFile = devices.dir.file('platform-acl');
    await writeFile(aclFile, render(aclText, {}));
    await writeFile(platformAclFile, render(await readFile(`${SCRIPTS}platform-acl.template`, 'utf8'), {}));
    await shareWithBroker(devices.dir.path, [devices.server.key, aclFile, platformAclFile]);
    const conf = render(await readFile(`${SCRIPTS}mosquitto-tls.conf.template`, 'utf8'), {
      PORT: '{port}', BULK_PORT: '{port:bulk}', PLATFORM_PORT: '{port:platform}', BIND_ADDRESS: '127.0.0.1', PLATFORM_BIND_ADDRESS: '127.0.0.1',
      CA_FILE: devices.ca, PLATFORM_CA_FILE: platform.ca, CERT_FILE: devices.server.cert, KEY_FILE: devices.server.key,
      ACL_FILE: aclFile, PLATFORM_ACL_FILE: platformAclFile,
    });
    const mosquitto = await Mosquitto.start({ listenerConfig: conf, namedPorts: ['bulk', 'platform'] });
    return {
      mosquitto, devices, platform, aclText,
      urls: { control: `mqtts://127.0.0.1:${mosquitto.port}`, bulk: `mqtts://127.0.0.1:${mosquitto.ports.bulk}`, platform: `mqtts://127.0.0.1:${mosquitto.ports.platform}` },
      dispose: async () => {
        await mosquitto.dispose();
        await devices.remove();
        await platform.remove();
      },
    };
  } catch (err) {
    await devices.remove();
    await platform.remove();
    throw err;
  }
}
