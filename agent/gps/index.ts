// Public surface of the GPS core: NMEA parsing, fix assembly, report policy,
// geofences and GPS time. The serial link (opening the tty) lives beside these
// and feeds LineSplitter.
export { parseSentence, nmeaChecksum, NMEA_MAX_LENGTH, type ParseOptions } from './nmea-parser.js';
export * from './nmea-types.js';
export { FixAssembler, MAX_EPOCH_SENTENCES } from './fix-assembler.js';
export { mergeEpoch, UERE_M, type Fix, type FixType } from './fix.js';
export { ReportPolicy, REPORT_POLICY_DEFAULTS, type ReportPolicyOptions, type LocationReport, type ReportReason, type Clock } from './report-policy.js';
export { Geofences, GEOFENCE_DEFAULTS, type Fence, type GeofenceEvent, type GeofenceOptions } from './geofence.js';
export { decideTimestamp, MIN_PLAUSIBLE_GPS_MS, type TimeDecision, type TimeInput, type TimeSource } from './gps-time.js';
export { isClockSynchronized, parseNtpSynchronized, TIMESYNC_FLAG_PATH } from './clock-sync.js';
export { LineSplitter, LINE_SPLITTER_MAX_LENGTH, type LineSplitterOptions } from './line-splitter.js';
export { haversineM, EARTH_RADIUS_M } from './geodesy.js';
