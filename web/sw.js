// The page's service worker: keeps a copy of the page itself (HTML, wasm, scripts, style and
// demo data) so that it opens with the network cut after the first visit. Models are not
// kept here but in OPFS (store.js). Network first, so that a new build is picked up at once;
// the copy answers only when the network cannot.
const CACHE = 'webtune-shell-v15';
const SHELL = [
  './', 'index.html', 'webtune-web.js', 'webtune-web_bg.wasm', 'worker.js', 'client.js',
  'app.js', 'run.js', 'views.js', 'preview.js', 'search.js', 'documents.js', 'pairs.js', 'chat.js', 'speed.js', 'runs.js', 'export.js', 'chart.js', 'cache.js', 'settings.js', 'presets.js', 'hub.js', 'store.js', 'download.js', 'download-worker.js', 'style.css',
  'demo/support.jsonl',
];
const paths = new Set(SHELL.map((p) => new URL(p, self.registration.scope).pathname));

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Only the page's own files: never models (OPFS keeps those) or other origins.
  if (request.method !== 'GET' || url.origin !== location.origin || !paths.has(url.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok) cache.put(request, response.clone());
      return response;
    } catch (err) {
      const copy = await cache.match(request, { ignoreSearch: true });
      if (copy) return copy;
      throw err;
    }
  })());
});
