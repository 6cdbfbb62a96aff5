import { describe, expect, it } from 'vitest';
import { cleanQuota, isQuantity, orderedKeys, parseQuantity, percent } from './quantity';

describe('quantities', () => {
  it('parses cpu, memory and counts', () => {
    expect(parseQuantity('500m')).toBeCloseTo(0.5);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('4Gi')).toBe(4 * 1024 ** 3);
    expect(parseQuantity('1.5k')).toBe(1500);
    expect(parseQuantity('2e3')).toBe(2000);
    expect(parseQuantity('2 cores')).toBeNull();
    expect(parseQuantity('')).toBeNull();
    expect(isQuantity('-1Gi')).toBe(false);
    expect(isQuantity('128Mi')).toBe(true);
  });

  it('computes use as a percentage of the total', () => {
    expect(percent('1500m', '8')).toBeCloseTo(18.8);
    expect(percent('1Gi', '4Gi')).toBe(25);
    expect(percent('1', undefined)).toBeNull();
    expect(percent(undefined, '4')).toBe(0);
  });

  it('orders keys known first and drops empty form values', () => {
    expect(orderedKeys({ pods: '1', 'fast.storageclass.storage.k8s.io/requests.storage': '1Gi' }, { 'requests.cpu': '1' })).toEqual([
      'requests.cpu',
      'pods',
      'fast.storageclass.storage.k8s.io/requests.storage',
    ]);
    expect(cleanQuota({ 'requests.cpu': ' 2 ', pods: '' })).toEqual({ 'requests.cpu': '2' });
  });
});
