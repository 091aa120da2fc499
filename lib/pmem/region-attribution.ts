// A region's bad ranges named by what holds them: the namespace, the device
// and the offset in it (ndctl prints region offsets raw).
import * as path from 'node:path';
import { namespaceAreas, type NdNamespace, type NdRegion, type PmemModel } from './nd-model';
import type { BadRange } from './ranges';
import { checkedBytes } from './sysfs';

// Splits each region range (region-relative) at namespace and device
// boundaries and names what holds each piece.
export function attribute(m: PmemModel, region: NdRegion, ranges: BadRange[], warnings: string[]): BadRange[] {
  const namespaces = m.namespaces.filter((ns) => ns.region === region);
  const areas: Array<{ ns: NdNamespace; start: number; end: number; device: string | null; base: number; source: string }> = [];
  let known = region.resource !== null;
  for (const ns of namespaces) {
    const data = namespaceAreas(m, ns);
    if (ns.raw === null || data === null) {
      known = false;
      break;
    }
    areas.push({ ns, start: ns.raw.start, end: ns.raw.end, device: null, base: 0, source: path.join(ns.dir, 'resource') });
    for (const a of data) areas.push({ ns, start: a.start, end: a.end, device: a.device, base: a.base, source: a.source });
  }
  if (!known || region.resource === null) {
    const own = path.join(region.dir, 'resource');
    const denied = m.denied.has(own) ? own : [...m.denied.keys()].find((f) => f.startsWith(region.dir + path.sep));
    warnings.push(
      `the layout of ${region.name} is unknown (${denied === undefined ? 'a resource attribute is missing' : `${denied} is readable by root only`}): ` +
        'ranges are not attributed to namespaces and devices',
    );
    return ranges;
  }
  const base = region.resource;
  const out: BadRange[] = [];
  for (const r of ranges) {
    const b = checkedBytes(base, 1, r.offset + r.length, path.join(region.dir, 'resource'), `the end of a bad range of ${region.name}`);
    const a = b - r.length;
    const cuts = new Set<number>([a, b]);
    for (const x of areas) {
      if (x.start > a && x.start < b) cuts.add(x.start);
      if (x.end > a && x.end < b) cuts.add(x.end);
    }
    const points = [...cuts].sort((x, y) => x - y);
    for (let i = 0; i + 1 < points.length; i++) {
      const s = points[i];
      const e = points[i + 1];
      // A device area lies inside its namespace's raw extent: prefer it.
      const dev = areas.find((x) => x.device !== null && x.start <= s && s < x.end);
      const ns = dev ?? areas.find((x) => x.start <= s && s < x.end);
      const piece: BadRange = {
        offset: s - base,
        length: e - s,
        namespace: ns?.ns.name ?? null,
        device: dev?.device ?? null,
        deviceOffset: dev === undefined ? null : checkedBytes(dev.base, 1, s - dev.start, dev.source, `an offset in ${dev.device}`),
      };
      const last = out[out.length - 1];
      const contiguous =
        last !== undefined &&
        last.offset + last.length === piece.offset &&
        last.namespace === piece.namespace &&
        last.device === piece.device &&
        (last.deviceOffset == null ? piece.deviceOffset === null : piece.deviceOffset === last.deviceOffset + last.length);
      if (contiguous) last.length += piece.length;
      else out.push(piece);
    }
  }
  return out;
}
