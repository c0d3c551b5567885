export * from './topics.js';
export * from './envelope.js';
export * from './messages.js';
export * from './validate.js';
export * from './registry.js';
export * from './health.js';
export * from './media.js';
export * from './commands.js';
