/* The farmers' app service worker: the app's pages, the farmer's fields and the
   catalogue open without signal. Static files are cached by version; pages are
   fetched from the network first and kept, so the last good copy opens offline. */
const VERSION = {{ version|tojson }};
const STATIC = "static-" + VERSION;
const PAGES = "pages";
const PRECACHE = {{ precache|tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("static-") && k !== STATIC).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

async function warm(urls) {
  const cache = await caches.open(PAGES);
  for (const url of urls) {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) await cache.put(url, response);
    } catch (e) {
      return; /* no signal: try again another time */
    }
  }
}

/* The signal is back (Background Sync): wake the open app pages to send their outbox. */
self.addEventListener("sync", (event) => {
  if (event.tag !== "agritrace-outbox") return;
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((all) => all.forEach((c) => c.postMessage({ flush: true })))
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.warm) event.waitUntil(warm(event.data.warm));
  if (event.data && event.data.forget) event.waitUntil(caches.delete(PAGES));
});

function page(request) {
  return fetch(request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(PAGES).then((c) => c.put(request, copy));
      } else if (response.status === 401) {
        /* Signed out or revoked: the farmer's records leave the phone too. */
        caches.delete(PAGES);
      }
      return response;
    })
    .catch(() =>
      caches.match(request).then((hit) => hit || caches.match("/app/", { ignoreSearch: true }))
        .then((hit) => hit || new Response({{ offline|tojson }}, { status: 503, headers: { "Content-Type": "text/plain" } }))
    );
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/app/")) return;
  if (url.pathname.startsWith("/app/signin") || url.pathname === "/app/sw.js") return;
  if (url.pathname.startsWith("/app/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(STATIC).then((c) => c.put(request, copy));
        }
        return response;
      }))
    );
    return;
  }
  event.respondWith(page(request));
});
