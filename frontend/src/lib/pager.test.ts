import { describe, expect, it } from 'vitest';
import { canGoBack, currentCursor, fitRows, initialPager, pageNumber, pagerReducer } from './pager';

describe('cursor stack paging', () => {
  it('starts on page 1 with no cursor', () => {
    expect(currentCursor(initialPager)).toBeNull();
    expect(pageNumber(initialPager)).toBe(1);
    expect(canGoBack(initialPager)).toBe(false);
  });
  it('walks forward and back', () => {
    let s = pagerReducer(initialPager, { type: 'next', cursor: '1180' });
    s = pagerReducer(s, { type: 'next', cursor: '1160' });
    expect(currentCursor(s)).toBe('1160');
    expect(pageNumber(s)).toBe(3);
    s = pagerReducer(s, { type: 'back' });
    expect(currentCursor(s)).toBe('1180');
    s = pagerReducer(s, { type: 'back' });
    expect(currentCursor(s)).toBeNull();
    expect(canGoBack(s)).toBe(false);
    expect(pagerReducer(s, { type: 'back' })).toBe(s);
  });
  it('ignores next without a cursor (last page)', () => {
    expect(pagerReducer(initialPager, { type: 'next', cursor: null })).toBe(initialPager);
    expect(pagerReducer(initialPager, { type: 'next', cursor: '' })).toBe(initialPager);
  });
  it('resets to page 1', () => {
    const s = pagerReducer(pagerReducer(initialPager, { type: 'next', cursor: '5' }), { type: 'reset' });
    expect(s).toEqual(initialPager);
    expect(pagerReducer(initialPager, { type: 'reset' })).toBe(initialPager);
  });
});

describe('fitRows', () => {
  it('fits rows under the header, clamped', () => {
    expect(fitRows(380, 34, { headerPx: 36 })).toBe(10);
    expect(fitRows(100, 34, { headerPx: 36 })).toBe(5);
    expect(fitRows(5000, 34, { headerPx: 36, max: 25 })).toBe(25);
  });
  it('falls back before measuring', () => {
    expect(fitRows(null, 34)).toBe(10);
    expect(fitRows(0, 34, { fallback: 12 })).toBe(12);
    expect(fitRows(300, 0)).toBe(10);
  });
});
