import { constants } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { detectGpiodVersion, findSysfsChip } from '../button/index.js';
import { resolveGpiodLine } from '../button/gpiod-backend.js';
import { getArgs, isBusyError, parseGetOutput } from '../button/gpiod-commands.js';
import { defaultInputConfig, type GpioLineConfig } from '../button/gpio-line.js';
import { runTool, toolPath } from '../button/tool-process.js';
import { parseSentence } from '../gps/nmea-parser.js';
import type { Sentence } from '../gps/nmea-types.js';
import { fail, pass, skip, warn, type Check, type CheckResult } from './check.js';
import { canOpen } from './system-checks.js';

const AUTO_BAUDS = [9600, 4800, 38400, 115200];

/** Listens on the GPS tty; returns the valid sentences seen, or why it could not. */
async function listen(path: string, baudRate: number, ms: number, requireChecksum: boolean): Promise<{ sentences: Sentence[]; lines: number } | { error: string; busy: boolean }> {
  const port = new SerialPort({ path, baudRate, autoOpen: false, lock: true });
  const opened = await new Promise<Error | null>((r) => port.open((err) => r(err ?? null)));
  if (opened !== null) return { error: opened.message, busy: /lock|busy/i.test(opened.message) };
  const sentences: Sentence[] = [];
  let lines = 0;
  let buf = '';
  port.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    const parts = buf.split(/\r?\n/);
    buf = parts.pop() ?? '';
    if (buf.length > 4096) buf = '';
    for (const l of parts) {
      lines++;
      const r = parseSentence(l, { requireChecksum });
      if (r.ok) sentences.push(r.sentence);
    }
  });
  await new Promise((r) => setTimeout(r, ms));
  await new Promise<void>((r) => port.close(() => r()));
  return { sentences, lines };
}

function fixState(sentences: Sentence[]): { fix: boolean; what: string } {
  const gga = sentences.filter((s) => s.type === 'GGA').at(-1) as { quality?: number; satsUsed?: number } | undefined;
  const rmc = sentences.filter((s) => s.type === 'RMC').at(-1) as { status?: string } | undefined;
  if (gga?.quality !== undefined) {
    // Quality 1 with no satellite used is no fix (a receiver that claims one without a solution).
    const fix = gga.quality > 0 && gga.quality !== 6 && (gga.satsUsed ?? 1) > 0;
    return { fix, what: fix ? `fix (GGA quality ${gga.quality}, ${gga.satsUsed ?? '?'} satellites)` : `no fix (GGA quality ${gga.quality}, ${gga.satsUsed ?? 0} satellites)` };
  }
  if (rmc?.status !== undefined) return { fix: rmc.status === 'A', what: rmc.status === 'A' ? 'fix (RMC status A)' : 'no fix (RMC status V)' };
  return { fix: false, what: 'no position sentences (GGA/RMC) seen' };
}

export const gpsCheck: Check = async ({ config, nmeaWaitMs }) => {
  if (config === undefined) return skip('gps.tty', 'gps', 'config invalid');
  const g = config.gps;
  if (!g.enabled) return skip('gps.tty', 'gps', 'GPS disabled (gps.enabled false)');
  const out: CheckResult[] = [];
  const problem = await canOpen(g.path, constants.O_RDONLY);
  if (problem !== undefined) {
    const fix = problem === 'permission denied'
      ? `add the service user to dialout (usermod -aG dialout nrec) or check the udev rule's GROUP/MODE; ls -l ${g.path}`
      : `check the wiring and that the receiver is plugged in: ls -l /dev/serial/by-id/ /dev/ttyACM* /dev/ttyUSB* /dev/serial0; for a UART receiver enable the serial port (raspi-config nonint do_serial_hw 0) and reinstall with --gps-uart; then set gps.path (now ${g.path})`;
    return [fail('gps.tty', 'gps', `${g.path}: ${problem}`, fix), skip('gps.nmea', 'gps', 'no tty'), skip('gps.fix', 'gps', 'no tty')];
  }
  out.push(pass('gps.tty', 'gps', `${g.path} present and readable`));
  const bauds = g.baudRate === 'auto' ? AUTO_BAUDS : [g.baudRate];
  const per = Math.max(1000, Math.floor(nmeaWaitMs / bauds.length));
  let heard: { baud: number; sentences: Sentence[] } | undefined;
  let lastLines = 0;
  for (const baud of bauds) {
    const r = await listen(g.path, baud, per, g.requireChecksum);
    if ('error' in r) {
      out.push(r.busy
        ? warn('gps.nmea', 'gps', `${g.path} is in use by another process (the running agent?): cannot listen`, 'stop the agent for this check (systemctl stop nrec), run nrec doctor, then systemctl start nrec')
        : fail('gps.nmea', 'gps', `cannot open ${g.path}: ${r.error}`, 'check permissions (group dialout) and that nothing else holds the port'));
      out.push(skip('gps.fix', 'gps', 'no NMEA'));
      return out;
    }
    lastLines = r.lines;
    if (r.sentences.length > 0) {
      heard = { baud, sentences: r.sentences };
      break;
    }
  }
  if (heard === undefined) {
    out.push(fail('gps.nmea', 'gps', `no valid NMEA on ${g.path} within ${Math.round(nmeaWaitMs / 1000)} s (${lastLines} unreadable lines)`, lastLines > 0
      ? `the baud rate is wrong (gps.baudRate ${String(g.baudRate)}): try "auto", or the receiver's documented rate`
      : 'nothing arrives: check TX of the receiver goes to RX of the Pi (GPIO15 / pin 10) and ground to ground, and that the receiver has power'));
    out.push(skip('gps.fix', 'gps', 'no NMEA'));
    return out;
  }
  out.push(pass('gps.nmea', 'gps', `${heard.sentences.length} valid sentences at ${heard.baud} baud`, { baud: heard.baud, types: [...new Set(heard.sentences.map((s) => s.type))] }));
  const f = fixState(heard.sentences);
  out.push(f.fix ? pass('gps.fix', 'gps', f.what) : warn('gps.fix', 'gps', f.what, 'take the recorder outdoors or near a window with a view of the sky; a first fix can take a few minutes'));
  return out;
};

/** Reads the button line once, without taking it from a running agent (never the agent's gpiomon-reclaiming start()). */
export const buttonCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('button.line', 'button', 'config invalid');
  const b = config.button;
  if (!b.enabled) return skip('button.line', 'button', 'button disabled (button.enabled false)');
  const cfg: GpioLineConfig = { ...defaultInputConfig, backend: b.backend, chip: b.chip, line: b.line, activeLow: b.activeLow, bias: b.bias, pollMs: b.pollMs, sysfsRoot: b.sysfsRoot, toolsDir: b.toolsDir };
  const wiring = `check the button goes from GPIO17 (pin 11) to ground (pin 9)`;
  if (b.backend === 'sysfs') {
    const why = 'backend sysfs (button.backend): the legacy /sys/class/gpio interface';
    if (typeof b.line !== 'number' && !/^\d+$/.test(String(b.line))) return fail('button.line', 'button', `${why} needs a line offset, the config names "${b.line}"`, 'set button.line to the offset (17 for GPIO17), or use backend gpiod');
    let chip;
    try {
      chip = await findSysfsChip(b.sysfsRoot, b.chip);
    } catch (err) {
      return fail('button.line', 'button', `${why}: ${(err as Error).message}`, 'use backend gpiod (apt-get install gpiod), which needs no sysfs');
    }
    const n = chip.base + Number(b.line);
    const dir = join(b.sysfsRoot, `gpio${n}`);
    const exported = await stat(dir).then(() => true, () => false);
    if (!exported) await writeFile(join(b.sysfsRoot, 'export'), String(n)).catch(() => undefined);
    const value = await waitRead(join(dir, 'value'));
    if (!exported) await writeFile(join(b.sysfsRoot, 'unexport'), String(n)).catch(() => undefined);
    if (value === undefined) return fail('button.line', 'button', `${why}: gpio${n} (${b.chip} line ${b.line}) cannot be read`, 'add the service user to the gpio group, and check the line number');
    const pressed = (value === '0') === b.activeLow;
    return pressed
      ? warn('button.line', 'button', `${why}: gpio${n} reads ${value}: PRESSED now`, `release the button; if it is not pressed, ${wiring}, and button.activeLow (${b.activeLow})`)
      : pass('button.line', 'button', `${why}: gpio${n} reads ${value} (released)`, { backend: 'sysfs', gpio: n });
  }
  let version;
  try {
    version = await detectGpiodVersion(b.toolsDir);
  } catch (err) {
    return fail('button.line', 'button', `backend gpiod: libgpiod tools unusable: ${(err as Error).message}`, 'apt-get install -y gpiod');
  }
  const why = `backend gpiod (button.backend): libgpiod v${version} tools at ${toolPath(b.toolsDir, 'gpioget')}`;
  let ref;
  try {
    ref = await resolveGpiodLine(version, cfg);
  } catch (err) {
    return fail('button.line', 'button', `${why}: ${(err as Error).message}`, `check button.chip (${b.chip}) and button.line (${String(b.line)}): gpioinfo lists the lines`);
  }
  const r = await runTool(b.toolsDir, 'gpioget', getArgs(version, ref, b.activeLow, b.bias));
  const level = r.code === 0 ? parseGetOutput(r.stdout) : undefined;
  if (level === undefined) {
    if (isBusyError(r.stderr)) return warn('button.line', 'button', `${why}: ${ref.chip} line ${ref.line} is held by another process (the running agent?)`, 'fine while nrec runs; to read it here, stop the agent (systemctl stop nrec) and run nrec doctor again');
    return fail('button.line', 'button', `${why}: gpioget on ${ref.chip} line ${ref.line} failed: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`, 'add the service user to the gpio group and check the chip and line');
  }
  return level === 1
    ? warn('button.line', 'button', `${why}: ${ref.chip} line ${ref.line} reads PRESSED now`, `release the button; if it is not pressed, ${wiring}, and button.activeLow / button.bias`)
    : pass('button.line', 'button', `${why}: ${ref.chip} line ${ref.line} reads released`, { backend: 'gpiod', version, chip: ref.chip, line: ref.line });
};

/** sysfs value files appear a moment after export (udev sets their permissions). */
async function waitRead(path: string): Promise<string | undefined> {
  for (let i = 0; i < 20; i++) {
    const v = await readFile(path, 'utf8').then((s) => s.trim(), () => undefined);
    if (v !== undefined && v !== '') return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

export const cameraCheck: Check = async ({ config }) => {
  if (config === undefined) return skip('camera', 'camera', 'config invalid');
  const m = config.media;
  if (!m.enabled) return [skip('camera', 'camera', 'evidence capture disabled (media.enabled false)'), skip('microphone', 'camera', 'evidence capture disabled')];
  const out: CheckResult[] = [];
  if (m.profile === 'sim' || m.profile === 'audio') out.push(skip('camera', 'camera', `profile ${m.profile}: no camera device`));
  else {
    const problem = await canOpen(m.videoDevice, constants.O_RDWR);
    out.push(problem === undefined
      ? pass('camera', 'camera', `${m.videoDevice} opens (profile ${m.profile})`)
      : fail('camera', 'camera', `${m.videoDevice}: ${problem}`, problem === 'permission denied'
        ? 'add the service user to the video group (usermod -aG video nrec)'
        : m.profile === 'csi' ? 'check the ribbon cable (contacts towards the board), and that libcamera sees it: rpicam-hello --list-cameras' : 'plug the USB camera in and check: v4l2-ctl --list-devices; set media.videoDevice'));
  }
  if (m.profile === 'sim' || !m.audio) out.push(skip('microphone', 'camera', m.profile === 'sim' ? 'profile sim: generated tone' : 'audio off (media.audio false)'));
  else {
    const snd = await readdir('/dev/snd').catch(() => [] as string[]);
    const capture = snd.filter((f) => /^pcmC\d+D\d+c$/.test(f));
    if (capture.length === 0) out.push(fail('microphone', 'camera', 'no ALSA capture device (/dev/snd/pcmC*D*c)', 'plug in the USB microphone (or the camera with one) and check: arecord -l'));
    else {
      const problem = await canOpen(join('/dev/snd', capture[0]), constants.O_RDWR);
      out.push(problem === undefined ? pass('microphone', 'camera', `capture device ${capture.join(', ')} opens`) : fail('microphone', 'camera', `/dev/snd/${capture[0]}: ${problem}`, 'add the service user to the audio group (usermod -aG audio nrec)'));
    }
  }
  return out;
};
