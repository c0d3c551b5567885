export { Ingest, type IngestOptions, type IngestStats } from './ingest.js';
export { NdjsonStore, readStream } from './ndjson-store.js';
