export { kill9, makeTestClip, missingCameraDevice, writeGarbageChunk } from './camera-stand-in.js';
