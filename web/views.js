// The workspace's views: one `<section data-view>` shown at a time, picked by the address's
// `#name` (so links, reloads and the browser's back button keep the view); the tab of the
// view on show carries `aria-current="page"`. No view logic lives here: only which is shown.
// No element's id may be a view's name: the browser would scroll to it when the address
// changes to `#name` (the page tier checks).
//
// Every view but the first keeps its body in a `<template>` until it is needed, and so do the
// first view's closed `<details>`: the view shown is filled at once, the rest by `fill`, one
// template per task. When parsing ends, Chromium's own DOMContentLoaded observers (autofill's,
// by all signs) style every form control of the document, fonts included: with all eight
// views' controls there, that start-up task took 58–136 ms on a 2-core machine (see README,
// "The page").
const FIRST = 'model';

const sections = () => [...document.querySelectorAll('section[data-view]')];

/// Puts `template`'s content in its place (nothing when there is no template).
function unpack(template) {
  template?.replaceWith(template.content);
}

/// Puts `section`'s body in place of its template, if it still has one.
function open(section) {
  unpack(section.querySelector(':scope > template'));
}

/// Shows view `name` (an unknown name shows the first view).
export function show(name) {
  const known = sections().some((s) => s.dataset.view === name);
  const current = known ? name : FIRST;
  for (const section of sections()) {
    if (section.dataset.view === current) open(section);
    section.hidden = section.dataset.view !== current;
  }
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

/// Puts every template of the page in place, one per task (the page's code needs all of them).
export async function fill() {
  for (;;) {
    await new Promise((next) => setTimeout(next));
    const template = document.querySelector('main template');
    if (!template) return;
    unpack(template);
  }
}

/// Opens view `name` (through the address, as a tab does), then lets a task pass: Chromium's
/// own work for the navigation (its observers force a style and layout) and the view's first
/// layout then stay out of the caller's next steps' task.
export async function go(name) {
  location.hash = `#${name}`;
  await new Promise((next) => setTimeout(next));
}
