export { kill9, makeTestClip, missingCameraDevice, writeGarbageChunk } from './camera-stand-in.js';
export { makeSimDevice, SimEvidenceSession, type SignedChunk, type SimDevice } from './signed-chunks.js';
