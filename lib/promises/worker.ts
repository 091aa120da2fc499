// The thread behind daxkit/promises: runs the synchronous functions, one
// request at a time, and posts back what they returned or threw. It imports
// the public API only, so that a promise gives what the synchronous call
// gives, by construction.
import { parentPort } from 'node:worker_threads';
import * as daxkit from '../index';
import { restoreArgs, serializeError, type Request, type Response } from './wire';

const functions: Record<Request['fn'], (...args: never[]) => unknown> = {
  statx: daxkit.statx,
  daxStatus: daxkit.daxStatus,
  setDaxFlag: daxkit.setDaxFlag,
  badblocks: daxkit.badblocks,
  findBadFiles: daxkit.findBadFiles,
  clearBadblocks: daxkit.clearBadblocks,
};

parentPort?.on('message', (req: Request) => {
  let res: Response;
  try {
    res = { id: req.id, ok: true, value: functions[req.fn](...(restoreArgs(req) as never[])) };
  } catch (e) {
    res = { id: req.id, ok: false, error: serializeError(e) };
  }
  parentPort?.postMessage(res);
});
