export {
  buildCapturePlan, CHUNK_PATTERN, chunkIndexOf, DEFAULT_CAPTURE, parseEncoderList,
  type AudioCodec, type CapturePlan, type CaptureSettings, type CommandSpec, type ProfileName, type VideoEncoder,
} from './capture-profiles.js';
export { loadOrCreateDeviceKey, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, type DeviceKey, type DeviceKeyOptions } from './device-key.js';
export { EvidenceSession, makeChunkRecord, signDigest, type EvidenceChunkInput, type EvidenceSessionOptions } from './evidence.js';
export { detectVideoEncoder, locateFfmpeg, locateFfprobe, toolVersion, type LocateOptions, type ToolLocation, type ToolSource } from './ffmpeg-locate.js';
export { hashFile } from './file-hash.js';
export { MediaService, type MediaServiceEvents, type MediaServiceOptions } from './media-service.js';
export { ModeMachine, type BaseMode, type Mode, type ModeAction, type ModeChunk, type ModeOptions, type SessionInfo } from './mode.js';
export { probeMedia, type ProbeResult } from './probe.js';
export { Recorder, type ChunkEvent, type RecorderEvents, type RecorderOptions, type RecorderState, type RecorderStatus } from './recorder.js';
export { QUARANTINE_DIR, salvage, type SalvageResult } from './salvage.js';
export { parseSegmentLine, SegmentListParser, type SegmentEntry } from './segment-list.js';
