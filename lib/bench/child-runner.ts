// One measurement in a fresh child process (child.ts), so that none inherits
// another's heap, JIT state or mappings.
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { ChildResult, ChildSpec } from './child';

const CHILD = path.join(__dirname, 'child.js');

export function runChild(spec: ChildSpec, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [JSON.stringify(spec)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
    let result: ChildResult | null = null;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 20000) stderr += d.toString();
    });
    child.on('message', (m) => {
      result = m as ChildResult;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: 'error', error: e.message });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result !== null) resolve(result);
      else resolve({ status: 'error', error: `the child process ${signal ? `was killed by ${signal}` : `exited with ${code}`} before reporting${stderr ? `: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}` });
    });
  });
}
