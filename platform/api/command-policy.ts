import type { DeviceCommandName } from '../../protocol/index.js';
import type { ApiRole } from '../store/index.js';

/*
 * Which role may send which device command through the API. Operators run
 * a shift: they locate, ping, start and stop visits and recordings. What
 * changes a device (its configuration, its software), exposes it
 * (config.get shows paths and broker addresses) or sets off contacts
 * (alarm.raise escalates for real) needs an admin. alarm.ack and
 * alarm.resolve are the alarm desk's: the alarm endpoints send them after
 * recording who acknowledged, so nobody can silence a device's alarm
 * without the desk knowing.
 */
export const COMMAND_ROLES: Record<DeviceCommandName, ApiRole | 'desk'> = {
  ping: 'operator',
  locate: 'operator',
  'visit.start': 'operator',
  'visit.end': 'operator',
  'record.start': 'operator',
  'record.stop': 'operator',
  'geofence.set': 'operator',
  'geofence.clear': 'operator',
  'config.get': 'admin',
  'config.set': 'admin',
  'update.install': 'admin',
  'alarm.raise': 'admin',
  'alarm.ack': 'desk',
  'alarm.resolve': 'desk',
};
