import { nullTranslator } from '@jupyterlab/translation';

import {
  formatDuration,
  formatMoney,
  formatSince,
  NOT_SET,
  orNotSet,
  secondsSince,
  setLanguage,
  shortArn
} from '../format';

const trans = nullTranslator.load('smstudio_ext');

beforeEach(() => setLanguage('en'));

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [59.9, '59s'],
    [60, '1m'],
    [3599, '59m'],
    [3600, '1h 00m'],
    [3 * 3600 + 5 * 60, '3h 05m'],
    [86400, '1d 0h'],
    [2 * 86400 + 4 * 3600 + 59, '2d 4h']
  ])('%p seconds is %p', (seconds, expected) => {
    expect(formatDuration(seconds, trans)).toBe(expected);
  });

  it('shows NOT_SET for null, negative and non-finite input', () => {
    expect(formatDuration(null, trans)).toBe(NOT_SET);
    expect(formatDuration(undefined, trans)).toBe(NOT_SET);
    expect(formatDuration(-1, trans)).toBe(NOT_SET);
    expect(formatDuration(NaN, trans)).toBe(NOT_SET);
    expect(formatDuration(Infinity, trans)).toBe(NOT_SET);
  });
});

describe('formatMoney', () => {
  it('uses two decimals', () => {
    expect(formatMoney(1.234)).toBe('$1.23');
    expect(formatMoney(1234.5)).toBe('$1,234.50');
    expect(formatMoney(0)).toBe('$0.00');
  });

  it('keeps sub-cent amounts visible', () => {
    expect(formatMoney(0.0046)).toBe('$0.0046');
  });

  it('formats other currencies and unknown codes', () => {
    expect(formatMoney(2, 'EUR')).toBe('€2.00');
    expect(formatMoney(2, 'NOPE!')).toBe('2.00 NOPE!');
  });

  it('shows NOT_SET for missing amounts', () => {
    expect(formatMoney(null)).toBe(NOT_SET);
    expect(formatMoney(NaN)).toBe(NOT_SET);
  });
});

describe('since', () => {
  const now = new Date('2024-05-01T12:00:00Z');

  it('counts seconds since a timestamp', () => {
    expect(secondsSince('2024-05-01T11:00:00Z', now)).toBe(3600);
    expect(secondsSince('2024-05-01T13:00:00Z', now)).toBe(0);
    expect(secondsSince('not a date', now)).toBeNull();
    expect(secondsSince(null, now)).toBeNull();
  });

  it('formats a start time with its age', () => {
    expect(formatSince('2024-05-01T08:48:00Z', trans, now)).toMatch(
      /^\d+\/\d+\/\d+, \d+:\d\d\s?[AP]M \(3h 12m ago\)$/
    );
    expect(formatSince(null, trans, now)).toBe(NOT_SET);
  });
});

describe('small helpers', () => {
  it('orNotSet', () => {
    expect(orNotSet('x')).toBe('x');
    expect(orNotSet('')).toBe(NOT_SET);
    expect(orNotSet(null)).toBe(NOT_SET);
  });

  it('shortArn', () => {
    expect(
      shortArn(
        'arn:aws:sagemaker:us-east-1:123456789012:image-version/sagemaker-distribution-cpu/7'
      )
    ).toBe('sagemaker-distribution-cpu/7');
    expect(shortArn('arn:aws:sagemaker:us-east-1:1:domain')).toBe('domain');
    expect(shortArn('plain')).toBe('plain');
    expect(shortArn(null)).toBe(NOT_SET);
  });
});
