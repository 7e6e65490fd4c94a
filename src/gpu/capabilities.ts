// What the adapter and device can do, in one plain (structured-cloneable) report that the UI shows and
// the planner and kernels read. Kernels choose variants from it (f16 storage, subgroups) and never assume
// a subgroup size: it is 4 on SwiftShader, 8 on lavapipe, 32 or 64 on GPUs.

/** The limits lorabook requests explicitly (a default device gets far less than the adapter offers). */
export const REQUESTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
  'maxBindingsPerBindGroup',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
] as const;

export type LimitName = (typeof REQUESTED_LIMITS)[number];

/** Optional features lorabook uses when the adapter has them. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

export interface CapabilityReport {
  adapter: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter: boolean;
    subgroupMinSize: number | null;
    subgroupMaxSize: number | null;
  };
  /** Every feature the adapter offers, sorted. */
  adapterFeatures: string[];
  /** Features enabled on the device lorabook uses. */
  deviceFeatures: string[];
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  limits: Record<LimitName, number>;
  /** Where the device lives: 'browser' (navigator.gpu) or 'node' (Dawn). */
  host: 'browser' | 'node';
}

interface InfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export function buildCapabilityReport(
  adapter: GPUAdapter,
  device: GPUDevice,
  host: CapabilityReport['host'],
): CapabilityReport {
  const info = (adapter.info ?? {}) as InfoLike;
  const legacyFallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const limits = {} as Record<LimitName, number>;
  for (const name of REQUESTED_LIMITS) limits[name] = Number(device.limits[name]);
  const deviceFeatures = [...device.features].map(String).sort();
  return {
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFallback ?? false),
      subgroupMinSize: info.subgroupMinSize ?? null,
      subgroupMaxSize: info.subgroupMaxSize ?? null,
    },
    adapterFeatures: [...adapter.features].map(String).sort(),
    deviceFeatures,
    shaderF16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    timestampQuery: device.features.has('timestamp-query'),
    limits,
    host,
  };
}

/** One line naming the adapter, for test logs and benchmark records. */
export function adapterName(caps: CapabilityReport): string {
  const a = caps.adapter;
  const parts = [a.vendor, a.architecture, a.device, a.description].filter((s) => s.length > 0);
  return `${parts.join(' / ') || 'unknown adapter'}${a.isFallbackAdapter ? ' (fallback)' : ''}`;
}
