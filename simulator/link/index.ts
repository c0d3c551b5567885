// Cellular-link stand-in: a TCP proxy with one shared FIFO and rate cap per direction, latency, buffer and cut/restore.
export { LinkProxy, type LinkOptions, type LinkStats } from './link-proxy.js';
export { LinkShaper, type ShaperOptions, type Delivery } from './link-shaper.js';
export { main, parseTarget } from './link-command.js';
