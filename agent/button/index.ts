/**
 * nrec alarm button: one GPIO input (long press = SOS) and an optional LED or
 * buzzer output.
 *
 * Wiring (default): a normally-open push button between a GPIO pin and ground,
 * GPIO17 (header pin 11) on gpiochip0, with the SoC's internal pull-up. The
 * line reads 1 (high) at rest and 0 while pressed, so it is configured
 * active-low and every level in this module is logical: 1 = pressed. An LED
 * (with its resistor) from GPIO27 (pin 13) to ground is driven high = on.
 * With the sysfs backend the pull-up cannot be requested from user space; set
 * it in /boot/firmware/config.txt: `gpio=17=ip,pu`.
 *
 * Line options (`GpioLineConfig`, defaults in `defaultInputConfig`):
 *   backend      'gpiod'           'gpiod' (libgpiod tools v1 or v2, detected) or 'sysfs'
 *   chip         'gpiochip0'       chip device name (sysfs: or its label)
 *   line         17                offset, or a line name such as 'GPIO17' (gpiod only)
 *   activeLow    true              pressed = electrically low (button to ground)
 *   bias         'pull-up'         'pull-up' | 'pull-down' | 'disable' | 'as-is' (gpiod only)
 *   pollMs       10                sysfs: value poll interval
 *   levelCheckMs 1000              gpiod: level re-check interval (see GpiodInputLine)
 *   toolsDir     (PATH)            gpiod: directory of gpiomon/gpioget/gpioset/gpiofind
 *   sysfsRoot    '/sys/class/gpio' sysfs: GPIO class directory
 * Output options: the same shape, defaults in `defaultOutputConfig`
 * (line 27, activeLow false, bias 'as-is').
 *
 * Gesture options (`PressClassifierOptions` + `DebounceOptions`):
 *   debounceMs          30     a level must hold this long to count
 *   longPressMs         1500   hold this long = long press; SOS fires at that moment
 *   sosOnLongPress      true   long press raises SOS
 *   sosOnTriplePress    false  triple press raises SOS
 *   multiPressWindowMs  400    max gap between presses of a double/triple
 *   stuckMs             30000  held longer = stuck-button fault, reported once
 *   cancelGesture       'double'  'short' | 'double' | 'triple' | 'none'
 *   cancelWindowMs      10000  cancel counts only this long after the SOS
 * Alarm options (`SosMachineOptions`): resendIntervalMs 15000 (re-send while
 * raised and unacknowledged, with an escalation count). Feedback: blinkMs 250.
 */
import type { Logger } from '../../lib/logger.js';
import { GpiodInputLine, GpiodOutputLine, type GpiodBackendOptions } from './gpiod-backend.js';
import { defaultInputConfig, defaultOutputConfig, resolveLineConfig, type GpioLineConfig, type InputLine, type OutputLine } from './gpio-line.js';
import type { Scheduler } from '../../lib/scheduler.js';
import { SysfsInputLine, SysfsOutputLine } from './sysfs-backend.js';

export * from './gpio-line.js';
export * from '../../lib/scheduler.js';
export * from './debounce.js';
export * from './press-classifier.js';
export * from './press-pipeline.js';
export * from './sos-machine.js';
export { FileSosStore } from './sos-store.js';
export * from './feedback.js';
export { GpiodInputLine, GpiodOutputLine, detectGpiodVersion, type GpiodBackendOptions } from './gpiod-backend.js';
export { parseGpiodVersion, type GpiodVersion } from './gpiod-commands.js';
export { SysfsInputLine, SysfsOutputLine, findSysfsChip } from './sysfs-backend.js';

/** Builds (does not start) the input line for `config`, on the backend it names. */
export function openInputLine(config: Partial<GpioLineConfig>, scheduler?: Scheduler, logger?: Logger, extra: Omit<GpiodBackendOptions, 'scheduler' | 'logger'> = {}): InputLine {
  const cfg = resolveLineConfig(config, defaultInputConfig);
  if (cfg.backend === 'sysfs') return new SysfsInputLine(cfg, { scheduler, logger });
  return new GpiodInputLine(cfg, { ...extra, scheduler, logger });
}

/** Builds the output line for `config`; the first `set()` claims the line. */
export function openOutputLine(config: Partial<GpioLineConfig>, scheduler?: Scheduler, logger?: Logger, extra: { settleMs?: number } = {}): OutputLine {
  const cfg = resolveLineConfig(config, defaultOutputConfig);
  if (cfg.backend === 'sysfs') return new SysfsOutputLine(cfg, { scheduler });
  return new GpiodOutputLine(cfg, { logger, settleMs: extra.settleMs });
}
