// Tessera web console: plain JavaScript, no build step.
//
// The page holds no secret: it signs in through a native form post, then
// talks to /console/api/ with an HttpOnly session cookie it cannot read and a
// CSRF token it sends on every state-changing request. Uploads and downloads
// go straight to the S3 endpoint through pre-signed URLs the server mints.
// Everything shown comes from the server; a panel without data says why.
"use strict";

(function () {
  const API = "/console/api";
  const POLL_MS = 2000;
  let session = null; // {access_key, csrf_token, s3_endpoint, ...}
  let pollTimer = null;
  let view = null;

  // ------------------------------------------------------------ helpers

  const $ = (id) => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function svg(tag, attrs) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
    return el;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
  }

  function rate(n, unit) {
    if (n === null || n === undefined) return "–";
    return (n < 10 ? n.toFixed(2) : n.toFixed(0)) + " " + unit;
  }

  function when(unixSeconds) {
    return new Date(unixSeconds * 1000).toLocaleString();
  }

  function show(el, visible) { el.hidden = !visible; }

  function message(el, text, kind) {
    el.textContent = text || "";
    el.className = "message " + (kind || "");
    show(el, Boolean(text));
  }

  class ApiError extends Error {
    constructor(status, code, text) { super(text); this.status = status; this.code = code; }
  }

  async function api(method, path, body) {
    const headers = {};
    if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (response.status === 401 && path !== "/session") {
      signedOut("Your session has ended. Sign in again.");
      throw new ApiError(401, "NotSignedIn", "signed out");
    }
    if (!response.ok && !(data && data.available === false)) {
      throw new ApiError(response.status, data && data.error, (data && data.message) || response.statusText);
    }
    return data;
  }

  // ------------------------------------------------------------ sign-in

  function signedOut(text) {
    session = null;
    stopPolling();
    show($("app"), false);
    show($("signin"), true);
    message($("signin-message"), text, "error");
    $("access-key").focus();
  }

  async function boot() {
    const params = new URLSearchParams(location.search);
    if (params.has("signin")) history.replaceState(null, "", location.pathname + location.hash);
    try {
      session = await api("GET", "/session");
    } catch (e) {
      session = null;
    }
    if (!session) {
      signedOut(params.get("signin") === "failed"
        ? "Sign-in failed: unknown access key or wrong secret key." : "");
      return;
    }
    show($("signin"), false);
    show($("app"), true);
    $("who-key").textContent = session.access_key;
    route();
  }

  $("signout").addEventListener("click", async () => {
    try { await api("DELETE", "/session"); } catch (e) { /* signed out anyway */ }
    signedOut("Signed out.");
  });

  // ------------------------------------------------------------ routing

  // #/cluster, #/buckets, #/b/<bucket>/<prefix>
  function route() {
    if (!session) return;
    const hash = location.hash || "#/cluster";
    const parts = hash.slice(2).split("/");
    stopPolling();
    for (const id of ["view-cluster", "view-buckets", "view-bucket"]) show($(id), false);
    $("nav-cluster").classList.toggle("active", parts[0] === "cluster");
    $("nav-buckets").classList.toggle("active", parts[0] !== "cluster");
    if (parts[0] === "b" && parts[1]) {
      const bucket = decodeURIComponent(parts[1]);
      const prefix = decodeURIComponent(parts.slice(2).join("/"));
      view = "bucket";
      show($("view-bucket"), true);
      openFolder(bucket, prefix);
    } else if (parts[0] === "buckets") {
      view = "buckets";
      show($("view-buckets"), true);
      loadBuckets();
    } else {
      view = "cluster";
      show($("view-cluster"), true);
      pollCluster();
    }
  }

  window.addEventListener("hashchange", route);

  function folderHash(bucket, prefix) {
    return "#/b/" + encodeURIComponent(bucket) + "/" + encodeURIComponent(prefix);
  }

  // ------------------------------------------------------------ cluster

  function stopPolling() {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
  }

  async function pollCluster() {
    stopPolling();
    if (view !== "cluster" || !session) return;
    try {
      const data = await api("GET", "/cluster");
      renderCluster(data.panels);
      show($("banner"), false);
      $("live").classList.remove("stale");
    } catch (e) {
      if (e.status === 401) return;
      $("live").classList.add("stale");
      message($("banner"), "Lost contact with the gateway (" + e.message + "); retrying…", "error");
    }
    if (view === "cluster" && session) pollTimer = setTimeout(pollCluster, POLL_MS);
  }

  function unavailable(panel) {
    return h("div", { class: "unavailable" },
      h("span", { class: "badge na" }, "not available yet"),
      h("p", { class: "muted" }, panel.reason || ""));
  }

  function renderCluster(panels) {
    const nodes = panels.nodes;
    const summary = $("summary");
    summary.replaceChildren();
    const zonesEl = $("zones");
    zonesEl.replaceChildren();
    if (!nodes.available) {
      zonesEl.append(unavailable(nodes));
    } else {
      const all = nodes.nodes;
      const up = all.filter((n) => n.state === "up").length;
      const capacity = all.reduce((s, n) => s + n.capacity_bytes, 0);
      const used = all.reduce((s, n) => s + n.used_bytes, 0);
      const g = nodes.geometry;
      summary.append(
        tile("Nodes up", up + " / " + all.length, up === all.length ? "ok" : "bad", "tile-nodes"),
        tile("Zones", String(nodes.zones.length), "", "tile-zones"),
        tile("Capacity used", bytes(used) + " of " + bytes(capacity), "", "tile-capacity"),
        tile("Erasure code", g.data_shards + " + " + g.parity_shards,
          "", "tile-geometry", "write quorum " + g.write_quorum + " shards"),
        tile("Map epoch", String(nodes.epoch), "", "tile-epoch"),
      );
      for (const zone of nodes.zones) {
        const members = all.filter((n) => n.zone === zone.zone);
        zonesEl.append(h("section", { class: "card zone", dataset: { zone: zone.zone } },
          h("h3", {}, zone.zone,
            h("span", { class: "muted small" },
              " " + zone.up + " up" + (zone.down ? ", " + zone.down + " down" : "") +
              (zone.draining ? ", " + zone.draining + " draining" : ""))),
          members.map(nodeCard)));
      }
      applyBars(zonesEl);
    }
    for (const name of ["repair", "margins", "metadata", "requests"]) {
      const body = $("panel-" + name).querySelector(".body");
      const panel = panels[name];
      body.replaceChildren(panel.available ? PANEL_RENDERERS[name](panel) : unavailable(panel));
      if (!panel.available && panel.configured_addresses) {
        body.append(h("p", { class: "small" }, "Configured: ",
          panel.configured_addresses.map((a) => h("span", { class: "mono chip" }, a))));
      }
    }
  }

  function tile(label, value, kind, id, note) {
    return h("div", { class: "card tile " + (kind || ""), id },
      h("div", { class: "tile-label" }, label),
      h("div", { class: "tile-value" }, value),
      note ? h("div", { class: "muted small" }, note) : null);
  }

  function nodeCard(n) {
    const share = n.capacity_bytes ? Math.min(100, (100 * n.used_bytes) / n.capacity_bytes) : 0;
    const beat = n.heartbeat_age_seconds === null ? "last heartbeat not reported"
      : "heartbeat " + n.heartbeat_age_seconds.toFixed(0) + " s ago";
    return h("div", { class: "node state-" + n.state, dataset: { nodeId: n.node_id, state: n.state } },
      h("div", { class: "node-head" },
        h("span", { class: "node-name mono" }, n.node_id),
        h("span", { class: "badge state " + n.state }, n.state)),
      h("div", { class: "muted small mono" }, n.address),
      h("div", { class: "bar", title: share.toFixed(1) + "% used" },
        h("div", { class: "bar-fill", dataset: { share: share.toFixed(1) } })),
      h("div", { class: "small" }, bytes(n.used_bytes) + " of " + bytes(n.capacity_bytes)),
      h("div", { class: "muted small" }, beat));
  }

  // Widths are set from script (CSP allows no inline style attributes in markup).
  function applyBars(root) {
    for (const fill of root.querySelectorAll(".bar-fill")) fill.style.width = fill.dataset.share + "%";
  }

  // A panel's facts as a key/value table (nested objects and lists nest).
  function renderFacts(value) {
    if (Array.isArray(value)) return h("div", {}, value.map(renderFacts));
    if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
    if (typeof value !== "object") return String(value);
    return h("table", { class: "kv mini" },
      Object.entries(value)
        .filter(([k]) => k !== "available")
        .map(([k, v]) => h("tr", { dataset: { key: k } },
          h("th", {}, k.replaceAll("_", " ")), h("td", {}, renderFacts(v)))));
  }

  const PANEL_RENDERERS = {
    repair: renderFacts,
    margins: renderFacts,
    metadata: renderFacts,
    requests: renderRates,
  };

  function renderRates(p) {
    const c = p.current;
    const out = h("div", {});
    if (!c) {
      out.append(h("p", { class: "muted" }, "Measuring… (a rate needs two readings)"));
    } else {
      out.append(h("div", { class: "rates" },
        h("div", { id: "rate-requests" }, h("b", {}, rate(c.requests_per_second, "req/s")), " requests"),
        h("div", {}, h("b", {}, rate(c.errors_per_second, "/s")), " errors"),
        h("div", {}, h("b", {}, bytes(c.received_bytes_per_second) + "/s"), " in"),
        h("div", {}, h("b", {}, bytes(c.sent_bytes_per_second) + "/s"), " out")));
      const ops = Object.entries(c.by_operation);
      if (ops.length) {
        out.append(h("table", { class: "mini" }, h("tbody", {},
          ops.map(([op, r]) => h("tr", {}, h("td", {}, op), h("td", { class: "num" }, rate(r, "/s")))))));
      }
    }
    out.append(sparkline(p.series));
    out.append(h("p", { class: "muted small" },
      "Over the last " + (c ? c.seconds.toFixed(0) : "–") + " s, " + p.scope + "; " +
      p.totals.requests + " requests since it started."));
    return out;
  }

  function sparkline(series) {
    const width = 260, height = 40;
    const box = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img" });
    if (series.length < 2) return box;
    const max = Math.max(1, ...series.map((s) => s.requests_per_second));
    const span = Math.max(1, series[0].age_seconds);
    const points = series.map((s) => {
      const x = width - (s.age_seconds / span) * width;
      const y = height - 2 - (s.requests_per_second / max) * (height - 4);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    box.append(svg("polyline", { points: points.join(" "), class: "spark-line" }));
    return box;
  }

  // ------------------------------------------------------------ buckets

  async function loadBuckets() {
    const rows = $("bucket-rows");
    try {
      const data = await api("GET", "/buckets");
      rows.replaceChildren(...data.buckets.map((b) => h("tr", { dataset: { bucket: b.name } },
        h("td", {}, h("a", { href: folderHash(b.name, ""), class: "bucket-link" }, b.name)),
        h("td", {}, when(b.created_at)),
        h("td", {}, b.access.available ? (b.access.public ? "public" : "private")
          : h("span", { class: "badge na", title: b.access.reason }, "not available yet")))));
      if (!data.buckets.length) {
        rows.append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No buckets yet.")));
      }
    } catch (e) {
      message($("buckets-message"), e.message, "error");
    }
  }

  $("create-bucket").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-bucket-name").value.trim();
    try {
      await api("POST", "/buckets", { name });
      $("new-bucket-name").value = "";
      message($("buckets-message"), "Created " + name + ".", "ok");
      loadBuckets();
    } catch (e) {
      message($("buckets-message"), e.message, "error");
    }
  });

  // ------------------------------------------------------------ one bucket

  let folder = { bucket: "", prefix: "", next: "" };

  async function openFolder(bucket, prefix) {
    folder = { bucket, prefix, next: "" };
    closeDetails();
    message($("bucket-message"), "");
    renderCrumbs(bucket, prefix);
    $("object-rows").replaceChildren();
    loadAccess(bucket);
    await loadPage();
  }

  function renderCrumbs(bucket, prefix) {
    const crumbs = $("crumbs");
    crumbs.replaceChildren(h("a", { href: "#/buckets" }, "Buckets"), " / ",
      h("a", { href: folderHash(bucket, ""), class: "crumb-bucket" }, bucket));
    let path = "";
    for (const part of prefix.split("/").filter(Boolean)) {
      path += part + "/";
      crumbs.append(" / ", h("a", { href: folderHash(bucket, path) }, part));
    }
  }

  async function loadAccess(bucket) {
    try {
      const access = await api("GET", "/buckets/" + encodeURIComponent(bucket) + "/access");
      $("access-toggle").checked = Boolean(access.public);
      $("access-toggle").disabled = !access.available;
      $("access-reason").textContent = access.available ? "" : access.reason;
    } catch (e) {
      $("access-reason").textContent = "";
    }
  }

  $("access-toggle").addEventListener("change", async (event) => {
    try {
      const result = await api("PUT", "/buckets/" + encodeURIComponent(folder.bucket) + "/access",
        { public: event.target.checked });
      if (!result.available) throw new Error(result.reason);
    } catch (e) {
      message($("bucket-message"), e.message, "error");
    }
    loadAccess(folder.bucket);
  });

  async function loadPage() {
    const { bucket, prefix, next } = folder;
    const query = "?prefix=" + encodeURIComponent(prefix) + "&start_after=" + encodeURIComponent(next);
    try {
      const page = await api("GET", "/buckets/" + encodeURIComponent(bucket) + "/objects" + query);
      if (bucket !== folder.bucket || prefix !== folder.prefix) return; // navigated away
      const rows = $("object-rows");
      if (!next && prefix) {
        const up = prefix.split("/").filter(Boolean).slice(0, -1).join("/");
        rows.append(h("tr", { class: "folder" },
          h("td", { colspan: 4 }, h("a", { href: folderHash(bucket, up ? up + "/" : "") }, "..", h("span", { class: "muted small" }, " (up one folder)")))));
      }
      for (const f of page.folders) {
        rows.append(h("tr", { class: "folder", dataset: { prefix: f } },
          h("td", {}, h("a", { href: folderHash(bucket, f), class: "folder-link" }, f.slice(prefix.length))),
          h("td", {}), h("td", {}), h("td", {})));
      }
      for (const o of page.objects) rows.append(objectRow(o));
      if (!next && !page.folders.length && !page.objects.length) {
        rows.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "Empty. Upload files to add some.")));
      }
      folder.next = page.next_start_after;
      show($("load-more"), page.is_truncated);
    } catch (e) {
      message($("bucket-message"), e.message, "error");
    }
  }

  $("load-more").addEventListener("click", loadPage);

  function objectRow(o) {
    const name = o.key.slice(folder.prefix.length);
    return h("tr", { class: "object", dataset: { key: o.key } },
      h("td", {}, h("a", { href: "#", class: "object-link", onclick: (e) => { e.preventDefault(); showDetails(o.key); } }, name)),
      h("td", { class: "num" }, bytes(o.size_bytes)),
      h("td", {}, when(o.last_modified)),
      h("td", { class: "row-actions" },
        h("button", { type: "button", class: "download", onclick: () => download(o.key) }, "Download"),
        h("button", { type: "button", class: "copy-link", onclick: () => openLinkDialog(o.key) }, "Copy link"),
        h("button", { type: "button", class: "info", onclick: () => showDetails(o.key) }, "Details")));
  }

  function urlFor(action) {
    return "/buckets/" + encodeURIComponent(folder.bucket) + "/" + action;
  }

  async function download(key, versionId) {
    try {
      const body = { key, attachment: true, expires_seconds: 300 };
      if (versionId) body.version_id = versionId;
      const link = await api("POST", urlFor("download-url"), body);
      const a = h("a", { href: link.url, rel: "noopener", class: "hidden-download" });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      message($("bucket-message"), "Download failed: " + e.message, "error");
    }
  }

  // ------------------------------------------------------------ uploads

  $("upload-input").addEventListener("change", async (event) => {
    const files = Array.from(event.target.files);
    event.target.value = "";
    const { bucket, prefix } = folder;
    await Promise.all(files.map((file) => upload(bucket, prefix + file.name, file)));
    if (bucket === folder.bucket && prefix === folder.prefix) openFolder(bucket, prefix);
  });

  async function upload(bucket, key, file) {
    const bar = h("progress", { max: 100, value: 0 });
    const status = h("span", { class: "small" }, "starting");
    const item = h("li", { class: "upload", dataset: { key } }, h("span", { class: "mono" }, key), bar, status);
    $("uploads").append(item);
    try {
      const target = await api("POST", "/buckets/" + encodeURIComponent(bucket) + "/upload-url", { key });
      await new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open("PUT", target.url);
        xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
        xhr.upload.onprogress = (e) => {
          if (e.lengthComputable) {
            bar.value = (100 * e.loaded) / e.total;
            status.textContent = bytes(e.loaded) + " of " + bytes(e.total);
          }
        };
        xhr.onload = () => (xhr.status === 200 ? resolve() : reject(new Error(s3Error(xhr))));
        xhr.onerror = () => reject(new Error("the S3 endpoint could not be reached (" + session.s3_endpoint + ")"));
        xhr.send(file);
      });
      bar.value = 100;
      status.textContent = "uploaded";
      item.classList.add("done");
      setTimeout(() => item.remove(), 4000);
    } catch (e) {
      status.textContent = "failed: " + e.message;
      item.classList.add("failed");
    }
  }

  function s3Error(xhr) {
    const doc = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
    const code = doc.querySelector("Code");
    const text = doc.querySelector("Message");
    return code ? code.textContent + (text ? ": " + text.textContent : "") : "HTTP " + xhr.status;
  }

  // ------------------------------------------------------------ details

  async function showDetails(key) {
    const panel = $("details");
    try {
      const d = await api("GET", urlFor("object") + "?key=" + encodeURIComponent(key));
      const p = d.placement;
      const rows = [
        ["Key", d.key], ["Size", bytes(d.size_bytes) + " (" + d.size_bytes + " bytes)"],
        ["Content type", d.content_type || "–"], ["ETag", d.etag],
        ["Last modified", when(d.last_modified)], ["Version id", d.version_id + " (current)"],
        ["Erasure code", d.geometry.data_shards + " + " + d.geometry.parity_shards],
      ];
      panel.replaceChildren(
        h("div", { class: "details-head" }, h("h3", {}, "Object"),
          h("button", { type: "button", onclick: closeDetails }, "Close")),
        h("table", { class: "kv" }, h("tbody", {}, rows.map(([k, v]) =>
          h("tr", {}, h("th", {}, k), h("td", { class: "mono" }, v))))),
        h("h4", {}, "Redundancy"),
        p.inline ? h("p", {}, "Stored inline in the metadata record (replicated with metadata).")
          : h("div", {},
            h("p", { id: "object-margin" },
              "Margin " + p.margin + " of " + p.margin_full + ": " + p.shards_on_up_nodes + " of " +
              p.shards_total + " shards on nodes that are up; " + d.geometry.data_shards + " needed to read."),
            h("table", { class: "mini" }, h("tbody", {}, p.shards.map((s) => h("tr", {},
              h("td", {}, "#" + s.shard_index + " " + s.kind), h("td", { class: "mono" }, s.node_id),
              h("td", {}, s.zone || "?"), h("td", {}, h("span", { class: "badge state " + s.node_state }, s.node_state))))))),
        h("h4", {}, "Versions"),
        d.versions.available ? versionsTable(key, d.versions) : unavailable(d.versions),
      );
      show(panel, true);
      $("view-bucket").classList.add("with-details");
    } catch (e) {
      message($("bucket-message"), e.message, "error");
    }
  }

  function versionsTable(key, v) {
    const head = h("p", { id: "versioning-status" }, "Versioning: " + v.versioning +
      (v.is_truncated ? " (newest " + v.versions.length + " shown)" : ""));
    const rows = v.versions.map((r) => h("tr", { class: "version", "data-version": r.version_id },
      h("td", { class: "mono" }, r.version_id + (r.is_latest ? " (latest)" : "")),
      h("td", {}, r.delete_marker ? "delete marker" : bytes(r.size_bytes)),
      h("td", {}, when(r.last_modified)),
      h("td", {}, r.delete_marker ? "" : h("button", {
        type: "button", class: "download-version", onclick: () => download(key, r.version_id),
      }, "Download"))));
    return h("div", {}, head, h("table", { class: "mini", id: "versions" }, h("tbody", {}, rows)));
  }

  function closeDetails() {
    show($("details"), false);
    $("view-bucket").classList.remove("with-details");
  }

  // ------------------------------------------------------------ links

  let linkKey = "";

  function openLinkDialog(key) {
    linkKey = key;
    $("link-key").textContent = key;
    $("link-url").value = "";
    $("link-status").textContent = "";
    $("link-dialog").showModal();
    mintLink();
  }

  async function mintLink() {
    try {
      const link = await api("POST", urlFor("download-url"),
        { key: linkKey, attachment: false, expires_seconds: Number($("link-expiry").value) });
      $("link-url").value = link.url;
    } catch (e) {
      $("link-status").textContent = "Could not make a link: " + e.message;
    }
  }

  $("link-expiry").addEventListener("change", mintLink);
  $("link-close").addEventListener("click", () => $("link-dialog").close());
  $("link-copy").addEventListener("click", async () => {
    const input = $("link-url");
    try {
      await navigator.clipboard.writeText(input.value);
      $("link-status").textContent = "Copied.";
    } catch (e) {
      input.select(); // no clipboard access (plain http on another host): copy by hand
      $("link-status").textContent = "Selected: press Ctrl+C to copy.";
    }
  });

  boot();
})();
