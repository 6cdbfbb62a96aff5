/** Test data for the monitoring pages, shaped like the contract (docs/charts-api.md, docs/metering.md). Tests only. */
import type { ChartResponse, MeteringReport, PriceSheet, TopResponse } from './types';

export const T0 = 1_796_000_000; // a round epoch second (2026-11-30)

/** A chart of `level` with CPU and memory series over 4 points a minute apart and one deploy marker. */
export function chart(overrides: Partial<ChartResponse> = {}): ChartResponse {
  const xs = [T0, T0 + 60, T0 + 120, T0 + 180];
  return {
    level: 'cluster',
    start: new Date(T0 * 1000).toISOString(),
    end: new Date((T0 + 180) * 1000).toISOString(),
    step: 60,
    source: 'raw',
    series: [
      { metric: 'cpu_usage', unit: 'cores', points: xs.map((x, i) => [x, 0.5 + i * 0.1]) },
      { metric: 'cpu_request', unit: 'cores', points: xs.map((x) => [x, 1]) },
      { metric: 'cpu_allocatable', unit: 'cores', points: xs.map((x) => [x, 3.8]) },
      { metric: 'cpu_capacity', unit: 'cores', points: xs.map((x) => [x, 4]) },
      { metric: 'mem_usage', unit: 'bytes', points: xs.map((x, i) => [x, i === 2 ? null : 512 * 1024 ** 2]) },
      { metric: 'mem_request', unit: 'bytes', points: xs.map((x) => [x, 1024 ** 3]) },
      { metric: 'pods', unit: 'count', points: xs.map((x, i) => [x, i === 3 ? null : 12]) },
    ],
    markers: [{ at: new Date((T0 + 90) * 1000).toISOString(), kind: 'deploy', title: 'web revision 3', actor: 'ada', severity: null, link: null }],
    last_sample: new Date((T0 + 180) * 1000).toISOString(),
    ...overrides,
  };
}

export function top(what: TopResponse['what'], items: TopResponse['items'] = []): TopResponse {
  return { what, items };
}

export function meteringReport(overrides: Partial<MeteringReport> = {}): MeteringReport {
  return {
    month: '2026-11',
    group: 'workspace',
    rows: [
      {
        workspace: { id: 1, name: 'team-1' },
        cpu_core_hours_requested: '720.000',
        cpu_core_hours_used: '300.500',
        cpu_core_hours_billed: '750.250',
        memory_gib_hours_requested: '1440.000',
        memory_gib_hours_used: '1000.000',
        memory_gib_hours_billed: '1500.000',
        cost: '105025.00',
        currency: 'KRW',
      },
      {
        workspace: { id: 2, name: 'team-2' },
        cpu_core_hours_requested: '10',
        cpu_core_hours_used: '5',
        cpu_core_hours_billed: '10',
        memory_gib_hours_requested: '20',
        memory_gib_hours_used: '10',
        memory_gib_hours_billed: '20',
        cost: '1400',
        currency: 'KRW',
      },
    ],
    totals: {
      cpu_core_hours_requested: '730',
      cpu_core_hours_used: '305.5',
      cpu_core_hours_billed: '760.25',
      memory_gib_hours_requested: '1460',
      memory_gib_hours_used: '1010',
      memory_gib_hours_billed: '1520',
      costs: { KRW: '106425' },
      unpriced: false,
    },
    idle: [{ cluster: { id: 1, name: 'seoul-prod' }, cpu_core_hours_idle: '2000', memory_gib_hours_idle: '4000', cost: '340000', currency: 'KRW' }],
    ...overrides,
  };
}

export function priceSheet(id: number, overrides: Partial<PriceSheet> = {}): PriceSheet {
  return {
    id,
    name: 'seoul-prod',
    cluster: 1,
    provider: '',
    currency: 'KRW',
    cpu_core_hour: '100.000000',
    memory_gib_hour: '20.000000',
    effective_from: '2026-01-01',
    ...overrides,
  };
}
