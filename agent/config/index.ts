export { AgentConfig, type Config, type AgentConfigInput } from './schema.js';
export { ConfigError, loadConfig, resolveConfig, saveConfig } from './load.js';
export { MQTT_SCHEMES, type ConfigProblem } from './problems.js';
