export { checkBytes, checkRecord, continuity, type ChainTip, type Continuity, type RecordCheck } from './chunk-verify.js';
export { CHAIN_FILE, chunkFileName, EvidenceStore, MANIFEST_FILE, readChainFile, type StoreResult } from './evidence-store.js';
export { EvidenceIntake, type IntakeOptions, type IntakeResult } from './intake.js';
export { keyRingFromMap, loadKeyRing, parsePem, type KeyRing } from './keys.js';
export { DirKeyRing } from './dir-key-ring.js';
export { chunkKey, Reassembler, type AssemblyOutcome, type ReassemblerOptions } from './reassembler.js';
export { auditSession, formatReport, verifyStore, type Problem, type SessionAudit, type SessionSummary, type StoreReport } from './verify.js';
export { main as verifyMain } from './verify-command.js';
