export * from './types.js';
export * from './views.js';
export { openStore, parseStoreUrl, describeStoreUrl, type OpenStoreOptions, type StoreTarget } from './open-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { PostgresStore, redactUrl, type PostgresStoreOptions } from './postgres-store.js';
export { applyStatuses, type PresenceRow, type StatusInput } from './presence.js';
export { SQLITE_MIGRATIONS } from './migrations/sqlite.js';
export { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
export type { Migration } from './migrate.js';
