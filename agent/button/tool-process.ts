import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** Result of a finished tool run. */
export interface ToolRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The path to spawn for a tool: inside `toolsDir` if set, else the bare name for a PATH lookup. */
export function toolPath(toolsDir: string | undefined, name: string): string {
  return toolsDir === undefined ? name : join(toolsDir, name);
}

/** Explains a tool that could not be started at all, with how to get it. */
export function missingToolError(name: string, toolsDir: string | undefined, err: Error): Error {
  const where = toolsDir === undefined ? 'on PATH' : `in ${toolsDir}`;
  return new Error(`cannot run ${name} ${where} (${err.message}); install the libgpiod tools (Debian/Raspberry Pi OS: apt install gpiod) or set gpio.toolsDir`);
}

/** Runs a short-lived tool to completion; never rejects for a non-zero exit, only if it cannot start or times out. */
export function runTool(toolsDir: string | undefined, name: string, args: string[], timeoutMs = 3000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    execFile(toolPath(toolsDir, name), args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code === 'string') {
        reject(missingToolError(name, toolsDir, err));
        return;
      }
      if (err !== null && err.killed === true) {
        reject(new Error(`${name} ${args.join(' ')} did not finish within ${timeoutMs} ms`));
        return;
      }
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}
