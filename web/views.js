// The workspace's views: one `<section data-view>` shown at a time, picked by the address's
// `#name` (so links, reloads and the browser's back button keep the view); the tab of the
// view on show carries `aria-current="page"`. No view logic lives here: only which is shown.
const FIRST = 'model';

const sections = () => [...document.querySelectorAll('section[data-view]')];

/// Shows view `name` (an unknown name shows the first view).
export function show(name) {
  const known = sections().some((s) => s.dataset.view === name);
  const current = known ? name : FIRST;
  for (const section of sections()) section.hidden = section.dataset.view !== current;
  for (const tab of document.querySelectorAll('#tabs a')) {
    if (tab.getAttribute('href') === `#${current}`) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  document.body.dataset.view = current;
}

/// Follows the address's `#name` from now on.
export function wire() {
  addEventListener('hashchange', () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
}
