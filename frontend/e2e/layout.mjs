// What the browser test asserts about the layout at a phone width, as one function handed to
// `page.evaluate` (it runs in the page, so it is self-contained). Used by dashboard.e2e.mjs.
//
// At the current viewport it returns every problem found (an empty list when the page reads):
//   - the page scrolls sideways (document.scrollingElement.scrollWidth > innerWidth, or > its
//     clientWidth where classic scrollbars take room);
//   - a figure lies outside its card (panel) or the viewport, or is cut by a box between it and
//     its card that clips (overflow other than visible), or is not drawn at all (no width or
//     height, visibility hidden). Figures are every table cell, every chart, and every element
//     that carries a value for the tests (data-value), the big numbers and the key figures.
//     Inside a box that scrolls vertically (the live feed, a table that grows long), a figure
//     below the fold is reachable: only its horizontal extent is checked there;
//   - a table cell's content is wider than the cell (it would run into the next cell), unless the
//     cell cuts it short with an ellipsis on purpose;
//   - a table column is hidden: a header cell that is not drawn is allowed only when the table
//     is stacked (its header row not displayed) and every body cell then shows its column's name
//     (a `data-label` drawn by its ::before).
// Each problem is a short sentence naming the card and the element.

/** Runs in the page: the layout problems at the current viewport. */
export function layoutProblems() {
  const SLACK = 0.5;
  const FIGURES = 'th, td, .chart, svg.recharts-surface, [data-value], .big-number, .kpi-value, .split-count, .share-bar, .p99, .feed-item';
  const problems = [];
  // With classic scrollbars the page is laid out in less than innerWidth: the viewport is its
  // client width then (the same as innerWidth where scrollbars take no room).
  const { scrollWidth, clientWidth } = document.scrollingElement;
  const vw = Math.min(window.innerWidth, clientWidth);
  if (scrollWidth > window.innerWidth) problems.push(`the page scrolls sideways: scrollWidth ${scrollWidth} > innerWidth ${window.innerWidth}`);
  else if (scrollWidth > clientWidth) problems.push(`the page scrolls sideways: scrollWidth ${scrollWidth} > clientWidth ${clientWidth} (scrollbars)`);

  const name = (el) => {
    const id = el.getAttribute('data-testid');
    if (id) return `[data-testid=${id}]`;
    const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
    const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 24);
    return `${el.tagName.toLowerCase()}${cls}${text ? ` "${text}"` : ''}`;
  };
  const px = (v) => Math.round(v * 10) / 10;
  const outside = (r, box) => r.left < box.left - SLACK || r.right > box.right + SLACK;

  for (const card of document.querySelectorAll('main.grid > .panel')) {
    const cardName = card.getAttribute('data-testid') || card.className;
    const cardBox = card.getBoundingClientRect();
    if (cardBox.left < -SLACK || cardBox.right > vw + SLACK) {
      problems.push(`card ${cardName} spans ${px(cardBox.left)}..${px(cardBox.right)} of ${vw}`);
    }
    // Header cells of a stacked table are not drawn: each body cell names its column instead.
    const stacked = new Set();
    for (const table of card.querySelectorAll('table')) {
      const head = table.querySelector('thead');
      if (!head || getComputedStyle(head).display !== 'none') continue;
      stacked.add(table);
      for (const td of table.querySelectorAll('tbody td')) {
        const label = td.getAttribute('data-label');
        const shown = getComputedStyle(td, '::before').content;
        if (!label || !shown.includes(label)) problems.push(`${cardName}: stacked cell ${name(td)} does not name its column`);
      }
      const columns = head.querySelectorAll('th').length;
      for (const row of table.querySelectorAll('tbody tr')) {
        const cells = row.querySelectorAll('td').length;
        if (cells !== columns) problems.push(`${cardName}: a row has ${cells} cells for ${columns} columns`);
      }
    }
    for (const el of card.querySelectorAll(FIGURES)) {
      if (el.tagName === 'TH' && stacked.has(el.closest('table'))) continue;
      const r = el.getBoundingClientRect();
      const what = `${cardName}: ${name(el)}`;
      if (r.width <= 0 || r.height <= 0 || getComputedStyle(el).visibility !== 'visible') {
        problems.push(`${what} is not drawn (${px(r.width)}x${px(r.height)})`);
        continue;
      }
      if (r.left < -SLACK || r.right > vw + SLACK) problems.push(`${what} spans ${px(r.left)}..${px(r.right)}, outside the viewport (${vw})`);
      // A cell narrower than what it holds lets its figure run into the next one (a cell that
      // cuts its text short with an ellipsis, holding it whole in its title, does so on purpose).
      const style = getComputedStyle(el);
      if ((el.tagName === 'TD' || el.tagName === 'TH') && style.textOverflow !== 'ellipsis' && el.scrollWidth > el.clientWidth + 1) {
        problems.push(`${what} holds ${el.scrollWidth} px in ${el.clientWidth} px: its content runs out of the cell`);
      }
      if (outside(r, cardBox)) problems.push(`${what} spans ${px(r.left)}..${px(r.right)}, outside its card ${px(cardBox.left)}..${px(cardBox.right)}`);
      let scrolls = false;
      for (let box = el.parentElement; box && box !== card; box = box.parentElement) {
        const style = getComputedStyle(box);
        if (style.overflowY === 'auto' || style.overflowY === 'scroll') scrolls = true;
        if (style.overflowX === 'visible') continue;
        const clip = box.getBoundingClientRect();
        if (outside(r, clip)) problems.push(`${what} spans ${px(r.left)}..${px(r.right)}, cut by ${name(box)} at ${px(clip.left)}..${px(clip.right)}`);
      }
      if (!scrolls && (r.top < cardBox.top - SLACK || r.bottom > cardBox.bottom + SLACK)) {
        problems.push(`${what} spans ${px(r.top)}..${px(r.bottom)} vertically, outside its card ${px(cardBox.top)}..${px(cardBox.bottom)}`);
      }
    }
  }
  return problems;
}
