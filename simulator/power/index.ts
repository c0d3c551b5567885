/** Power and thermal stand-ins: a sysfs-shaped tree the agent's health readers read. */
export { SysfsPowerSupply, type SysfsPowerSupplyOptions } from './sysfs-power-supply.js';
