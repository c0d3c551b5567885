import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { provision } from './provision.js';
import { UsageError } from '../../lib/cli-args.js';


/** The service user's ids when running as root and the user exists, so the agent can read its keys. */
function serviceOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'nrec'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()), gid: Number(execFileSync('id', ['-g', 'nrec'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) };
  } catch {
    return undefined;
  }
}

export async function main(argv: string[]): Promise<number> {
  let values: { 'device-id'?: string; out?: string; config?: string; 'self-signed'?: boolean; days?: string; force?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { 'device-id': { type: 'string' }, out: { type: 'string' }, config: { type: 'string' }, 'self-signed': { type: 'boolean' }, days: { type: 'string' }, force: { type: 'boolean' } } }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values['device-id'] === undefined) {
    throw new UsageError('--device-id is required');
  }
  let out = values.out;
  if (out === undefined) out = values.config === undefined ? '/var/lib/nrec/keys' : `${(await loadConfig(resolve(values.config))).dataDir}/keys`;
  try {
    const r = await provision({ deviceId: values['device-id'], out: resolve(out), selfSigned: values['self-signed'], days: values.days === undefined ? undefined : Number(values.days), force: values.force, owner: serviceOwner() });
    const id = values['device-id'];
    process.stdout.write([
      `Provisioned device ${id}.`,
      '',
      'Stays on this device (private, mode 0600; never copy them off, never send them anywhere):',
      ...r.secret.map((f) => `  ${f}`),
      '',
      'Goes to the platform (public; safe to e-mail or copy on a USB stick):',
      `  ${r.forPlatform[0]}`,
      `      the evidence public key: put it in the ingest's <store>/keys/${id}.pem, or evidence from ${id} is refused`,
      `  ${r.forPlatform[1]}`,
      `      the TLS certificate request: the platform's CA signs it into a client certificate with CN=${id};`,
      `      install the result as ${resolve(out)}/tls/client.crt and the CA certificate as /etc/nrec/tls/ca.crt`,
      ...(r.certificate === undefined ? [] : ['', `Lab only: a self-signed client certificate ${r.certificate}; a broker trusts it only if its cafile lists it.`]),
      '',
      'Then point /etc/nrec/config.json at them (mqtt.certFile, mqtt.keyFile, mqtt.caFile) and run: nrec doctor',
      '',
    ].join('\n'));
    return 0;
  } catch (err) {
    process.stderr.write(`nrec provision: ${(err as Error).message}\n`);
    return 1;
  }
}
