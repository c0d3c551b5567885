export { Ingest, type IngestOptions, type IngestStats, type IngestEvents } from './ingest.js';
export { readStream, defaultStorePath } from '../store/read-back.js';
