// The crash-consistency explorer (docs/crash-safety.md). Generic parts: the strace parser, the
// file-system model, the crash-state builder, the MQTT stream reconstruction. Agent-specific parts:
// what the agent promised by a crash point, and the check of a state with the agent's own code.
export { StraceParser, parseCall, decodeString, type Arg, type Syscall, type ProcessExit } from './strace-parse.js';
export { FsModel, ReplayError, TRACED_CALLS, type DataOp, type DirOp, type Inode } from './fs-model.js';
export { buildCrashState, crashTree, fileContent, survivingDirOps, VARIANTS, BLOCK, type Variant, type CrashState } from './crash-state.js';
export { MqttStreams, type MqttEvent } from './mqtt-streams.js';
export { loadTrace, straceArgs, type LoadedTrace } from './load-trace.js';
export { agentHistory, promisedBy, type AgentHistory, type Promised } from './agent-promises.js';
export { readAgentState, lostInState, type AgentStateView, type PlatformAt } from './agent-state.js';
export { PlatformRecord, seedStore, storedChunks } from './platform-record.js';
export { killTree, descendants } from '../process-tree.js';
