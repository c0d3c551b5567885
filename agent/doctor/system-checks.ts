import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clockSynced, filesystemSpace, readCpuTempC } from '../health/index.js';
import { detectVideoEncoder, locateFfmpeg, locateFfprobe } from '../media/ffmpeg-locate.js';
import { PRIVATE_KEY_FILE } from '../media/device-key.js';
import { fail, pass, skip, warn, type Check, type CheckResult } from './check.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;

export const clockCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('clock', 'clock', 'config invalid');
  if (await clockSynced(config.health.clockSyncFile)) return pass('clock', 'clock', 'system clock synchronised (NTP)');
  if (config.gps.enabled) return warn('clock', 'clock', 'system clock not synchronised: messages carry GPS time once the receiver has a fix', 'enable NTP when the recorder has a network: timedatectl set-ntp true (systemd-timesyncd), or configure chrony');
  return fail('clock', 'clock', 'system clock not synchronised and GPS is off: message times cannot be trusted', 'enable NTP: timedatectl set-ntp true, or turn GPS on (gps.enabled)');
};

export const diskCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('disk', 'disk', 'config invalid');
  const dir = config.dataDir;
  await mkdir(dir, { recursive: true }).catch(() => undefined);
  const space = await filesystemSpace(dir);
  const out: CheckResult[] = [];
  const quota = config.transport.outboxCapacityBytes + (config.media.enabled ? config.media.quotaBytes : 0);
  if (space === undefined) out.push(fail('disk.space', 'disk', `cannot read free space of ${dir}`, `check that ${dir} exists and is on a mounted filesystem`));
  else if (space.freeBytes < quota) {
    out.push(warn('disk.space', 'disk', `${(space.freeBytes / GiB).toFixed(2)} GiB free in ${dir}, less than the ${(quota / GiB).toFixed(2)} GiB the outbox and evidence may use`, 'use a larger SD card, free space, or lower transport.outboxCapacityBytes / media.quotaBytes', { freeBytes: space.freeBytes, quotaBytes: quota }));
  } else out.push(pass('disk.space', 'disk', `${(space.freeBytes / GiB).toFixed(2)} GiB free, quota ${(quota / GiB).toFixed(2)} GiB`, { freeBytes: space.freeBytes, quotaBytes: quota }));
  // What a durable commit costs here: write 64 KiB and fsync, as the outbox does for an alarm.
  const probe = join(dir, `.doctor-${process.pid}`);
  try {
    const t0 = performance.now();
    const fh = await open(probe, 'w', 0o600);
    await fh.write(Buffer.alloc(64 * 1024, 1));
    await fh.sync();
    await fh.close();
    const ms = performance.now() - t0;
    out.push(ms > 500
      ? warn('disk.latency', 'disk', `a 64 KiB write + fsync took ${ms.toFixed(0)} ms`, 'the SD card is slow or worn: use an A1/A2-rated card (or an SSD) and check dmesg for I/O errors', { writeFsyncMs: Math.round(ms) })
      : pass('disk.latency', 'disk', `64 KiB write + fsync in ${ms.toFixed(0)} ms`, { writeFsyncMs: Math.round(ms) }));
  } catch (err) {
    out.push(fail('disk.latency', 'disk', `cannot write in ${dir}: ${(err as Error).message}`, `make ${dir} writable by the service user: chown -R nrec:nrec ${dir}`));
  } finally {
    await rm(probe, { force: true });
  }
  return out;
};

/** Raspberry Pi firmware: under-voltage as the rpi_volt hwmon alarm (Bookworm kernels) or vcgencmd's throttled bits. */
export const powerCheck: Check = async () => {
  const hwmon = '/sys/class/hwmon';
  for (const h of await readdir(hwmon).catch(() => [] as string[])) {
    const name = (await readFile(join(hwmon, h, 'name'), 'utf8').catch(() => '')).trim();
    if (name !== 'rpi_volt') continue;
    const alarm = (await readFile(join(hwmon, h, 'in0_lcrit_alarm'), 'utf8').catch(() => '')).trim();
    if (alarm === '1') return fail('power.undervoltage', 'power', 'under-voltage detected by the firmware', 'use the official 5.1 V power supply or a shorter, thicker USB cable; a browning-out Pi corrupts its SD card');
    if (alarm === '0') return pass('power.undervoltage', 'power', 'no under-voltage');
  }
  const vc = await run('vcgencmd', ['get_throttled'], { timeout: 3000 }).then((r) => r.stdout.trim(), () => undefined);
  const bits = vc === undefined ? undefined : Number(/0x[0-9a-f]+/i.exec(vc)?.[0]);
  if (bits !== undefined && Number.isFinite(bits)) {
    if ((bits & 0x1) !== 0) return fail('power.undervoltage', 'power', `under-voltage now (${vc})`, 'use the official 5.1 V power supply or a shorter, thicker USB cable');
    if ((bits & 0x10000) !== 0) return warn('power.undervoltage', 'power', `under-voltage since boot (${vc})`, 'check the power supply and cable; the condition has cleared for now');
    return pass('power.undervoltage', 'power', 'no under-voltage since boot');
  }
  return skip('power.undervoltage', 'power', 'not reported by this kernel (no rpi_volt hwmon, no vcgencmd)');
};

export const temperatureCheck: Check = async ({ config }) => {
  const root = config?.health.thermalRoot ?? '/sys/class/thermal';
  const c = await readCpuTempC(root);
  if (c === undefined) return skip('temperature', 'power', `no CPU thermal zone under ${root}`);
  if (c >= 80) return warn('temperature', 'power', `CPU at ${c.toFixed(1)} °C: the Pi throttles at 80 °C and above`, 'give the case air, or fit a heatsink', { cpuC: c });
  return pass('temperature', 'power', `CPU at ${c.toFixed(1)} °C`, { cpuC: c });
};

/** Private key files must be 0600: a key others could read may already be copied. */
export const keyModesCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('keys.modes', 'keys', 'config invalid');
  const files: Array<[string, string]> = [[join(config.dataDir, 'keys', PRIVATE_KEY_FILE), 'evidence key']];
  if (config.mqtt.keyFile) files.push([config.mqtt.keyFile, 'TLS client key (mqtt.keyFile)']);
  if (config.mqtt.passwordFile) files.push([config.mqtt.passwordFile, 'broker password (mqtt.passwordFile)']);
  const out: CheckResult[] = [];
  const open: string[] = [];
  const missing: string[] = [];
  for (const [f, what] of files) {
    const st = await stat(f).catch(() => undefined);
    if (st === undefined) {
      missing.push(`${what} ${f}`);
      continue;
    }
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) open.push(`${f} (${what}) has mode 0${mode.toString(8)}`);
  }
  if (open.length > 0) out.push(fail('keys.modes', 'keys', `private key readable by others: ${open.join('; ')}`, `chmod 600 ${open.map((o) => o.split(' ')[0]).join(' ')} (and treat the key as compromised if others had access: provision a new one)`));
  else out.push(pass('keys.modes', 'keys', `${files.length - missing.length} private key file(s) at 0600`));
  const deviceKeyMissing = missing.find((m) => m.startsWith('evidence key'));
  if (deviceKeyMissing) {
    out.push((config.media.enabled ? fail : warn)('keys.device', 'keys', `no ${deviceKeyMissing}`, `run: nrec provision --device-id ${config.deviceId} --config <this config>, then register platform/${config.deviceId}.pem with the platform`));
  } else out.push(pass('keys.device', 'keys', 'evidence key present'));
  for (const m of missing.filter((x) => !x.startsWith('evidence key'))) out.push(fail('keys.files', 'keys', `missing ${m}`, 'fix the path in the config, or run nrec provision'));
  return out;
};

/** The client certificate: readable, valid now, matching its key, issued for this device id, by the configured CA. */
export const certificateCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('tls.certificate', 'broker', 'config invalid');
  const m = config.mqtt;
  if (m.certFile === undefined) return skip('tls.certificate', 'broker', 'no client certificate configured (mqtt.certFile)');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(m.certFile));
  } catch (err) {
    return fail('tls.certificate', 'broker', `cannot read the client certificate ${m.certFile}: ${(err as Error).message}`, 'install the certificate the platform issued for this device (nrec provision makes the request)');
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  const details = { subject: cert.subject, issuer: cert.issuer, validTo: cert.validTo };
  if (cn !== config.deviceId) return fail('tls.certificate', 'broker', `client certificate ${m.certFile} is for "${cn ?? '?'}", this device is "${config.deviceId}": the broker will refuse its topics`, `install the certificate issued for ${config.deviceId}, or correct deviceId in the config`, details);
  const now = Date.now();
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) return fail('tls.certificate', 'broker', `client certificate not valid now (valid ${cert.validFrom} to ${cert.validTo})`, 'request a new certificate from the platform (nrec provision --force makes a new request), and check the clock', details);
  if (m.keyFile !== undefined) {
    const keyPem = await readFile(m.keyFile).catch(() => undefined);
    if (keyPem !== undefined && !cert.checkPrivateKey(createPrivateKey(keyPem))) return fail('tls.certificate', 'broker', `client certificate ${m.certFile} does not belong to the key ${m.keyFile}`, 'install the certificate issued for this key (the platform signed the CSR nrec provision wrote)', details);
  }
  if (m.caFile !== undefined) {
    const ca = await readFile(m.caFile).then((b) => new X509Certificate(b), () => undefined);
    if (ca === undefined) return fail('tls.certificate', 'broker', `cannot read the CA certificate ${m.caFile}`, 'install the platform\'s CA certificate there (mqtt.caFile)', details);
    if (!cert.verify(createPublicKey(ca.publicKey.export({ type: 'spki', format: 'pem' })))) return warn('tls.certificate', 'broker', `client certificate is not signed by the CA in ${m.caFile}`, 'a broker trusting only that CA will refuse it: install the certificate the platform issued', details);
  }
  const days = Math.floor((Date.parse(cert.validTo) - now) / 86_400_000);
  if (days < 30) return warn('tls.certificate', 'broker', `client certificate expires in ${days} days`, 'request a renewal from the platform', details);
  return pass('tls.certificate', 'broker', `client certificate for ${cn}, valid ${days} more days`, details);
};

export const ffmpegCheck: Check = async ({ config }) => {
  const needed = config?.media.enabled === true;
  const bad = needed ? fail : warn;
  const out: CheckResult[] = [];
  let ffmpeg;
  try {
    ffmpeg = await locateFfmpeg({ configPath: config?.media.ffmpegPath });
  } catch (err) {
    return [bad('ffmpeg', 'camera', `ffmpeg not found: ${(err as Error).message}`, 'apt-get install -y ffmpeg')];
  }
  out.push(pass('ffmpeg', 'camera', `${short(ffmpeg.version)} (${ffmpeg.path}, from ${ffmpeg.source})`, { path: ffmpeg.path, version: ffmpeg.version }));
  try {
    const probe = await locateFfprobe(ffmpeg, {});
    out.push(pass('ffprobe', 'camera', `${short(probe.version)} (${probe.path})`, { path: probe.path }));
  } catch (err) {
    out.push(bad('ffprobe', 'camera', `ffprobe not found: ${(err as Error).message}`, 'apt-get install -y ffmpeg (it ships ffprobe)'));
  }
  const encoder = await detectVideoEncoder(ffmpeg.path);
  const model = (await readFile('/proc/device-tree/model', 'utf8').catch(() => '')).replace(/\0/g, '').trim();
  // Pi 3 and 4 have a hardware H.264 encoder that ffmpeg reaches through V4L2 M2M; a Pi 5 has none.
  const hasHardware = /Raspberry Pi [34]/.test(model);
  if (encoder === 'h264_v4l2m2m') out.push(pass('ffmpeg.encoder', 'camera', 'hardware H.264 encoder (h264_v4l2m2m)'));
  else if (hasHardware) out.push(warn('ffmpeg.encoder', 'camera', `${model} has a hardware H.264 encoder, but this ffmpeg cannot use it: libx264 in software`, 'use Debian / Raspberry Pi OS\'s ffmpeg (apt-get install ffmpeg), built with V4L2 M2M'));
  else out.push(pass('ffmpeg.encoder', 'camera', `software H.264 (libx264)${model ? ` on ${model}` : ''}: no hardware encoder on this board`));
  return out;
};

/** "ffmpeg version 5.1.9-0+deb12u1" without the copyright line that follows. */
const short = (v: string) => /^\S+ version \S+/.exec(v)?.[0] ?? v;

/** Whether a path can be opened for reading by this process (O_NONBLOCK: a tty without carrier must not hang us). */
export async function canOpen(path: string, flags = constants.O_RDONLY): Promise<string | undefined> {
  try {
    await access(path, constants.F_OK);
  } catch {
    return 'does not exist';
  }
  try {
    const fh = await open(path, flags | constants.O_NONBLOCK | constants.O_NOCTTY);
    await fh.close();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (err as Error).message;
  }
}
