import type { Static } from '@sinclair/typebox';
import type {
  Alarm, ConsoleSettings, Device, DeviceEvent, Geofence, HealthSummary, Me, Position, SentCommand, StreamDevice, StreamHello, TrackList, Visit, VisitCheck,
} from '../../../protocol/api-schemas.js';

/*
 * The API's shapes as the console sees them: types only, from the schemas in
 * protocol/ (nothing of TypeBox reaches the browser bundle).
 */

export type ApiAlarm = Static<typeof Alarm>;
export type ApiDevice = Static<typeof Device>;
export type ApiPosition = Static<typeof Position>;
export type ApiHealth = Static<typeof HealthSummary>;
export type ApiGeofence = Static<typeof Geofence>;
export type ApiSettings = Static<typeof ConsoleSettings>;
export type ApiMe = Static<typeof Me>;
export type ApiVisit = Static<typeof Visit>;
export type ApiVisitCheck = Static<typeof VisitCheck>;
export type ApiCommand = Static<typeof SentCommand>;
export type ApiEvent = Static<typeof DeviceEvent>;
export type ApiTracks = Static<typeof TrackList>;
export type StreamDeviceData = Static<typeof StreamDevice>;
export type StreamHelloData = Static<typeof StreamHello>;

export interface TrackPoint {
  t: number;
  lat: number;
  lon: number;
  acc?: number;
}
