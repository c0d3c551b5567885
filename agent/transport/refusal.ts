/** A broker's refusal of a publish, from its MQTT 5 PUBACK reason code. */
export interface Refusal {
  topic: string;
  reasonCode: number;
  reason: string;
  since: number;
}

/** MQTT 5 PUBACK reason codes of refusals (MQTT 5.0 §3.4.2.1). */
const REASONS: Record<number, string> = {
  0x80: 'unspecified error',
  0x83: 'implementation specific error',
  0x87: 'not authorized',
  0x90: 'topic name invalid',
  0x91: 'packet identifier in use',
  0x97: 'quota exceeded',
  0x99: 'payload format invalid',
};

/**
 * The refusal an error from a publish stands for, or undefined when it is not
 * one (the connection dropped, a timeout): decided from the reason code mqtt.js
 * puts on `err.code`, never from the message text.
 */
export function refusalOf(topic: string, err: { code?: unknown }, now = Date.now()): Refusal | undefined {
  const code = err.code;
  if (typeof code !== 'number' || code < 0x80 || code > 0xff) return undefined;
  return { topic, reasonCode: code, reason: REASONS[code] ?? `reason code 0x${code.toString(16)}`, since: now };
}
