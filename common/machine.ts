/**
 * A description of the machine a result was produced on
 * (systeminformation), so two result files can be matched. Only stable
 * facts go in (no load, no free memory), so reruns on one machine give
 * identical records.
 */
import si from 'systeminformation';

export interface MachineInfo {
  cpu: string;
  cores: number;
  physicalCores: number;
  memTotalMb: number;
  os: string;
  kernel: string;
  arch: string;
  node: string;
  virtual: boolean | null;
}

let cached: Promise<MachineInfo> | undefined;

/** The machine's description; computed once per process. */
export function machineInfo(): Promise<MachineInfo> {
  cached ??= (async () => {
    const [cpu, mem, os, sys] = await Promise.all([si.cpu(), si.mem(), si.osInfo(), si.system().catch(() => undefined)]);
    return {
      cpu: `${cpu.manufacturer} ${cpu.brand}`.trim(),
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      memTotalMb: Math.round(mem.total / 2 ** 20),
      os: `${os.distro} ${os.release}`.trim(),
      kernel: os.kernel,
      arch: os.arch,
      node: process.version,
      virtual: sys ? Boolean(sys.virtual) : null,
    };
  })();
  return cached;
}
