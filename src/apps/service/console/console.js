// The operator's console: reads and steers the engine through its own API, with the API's token.
// Plain script, no framework, no build step. The token stays in this tab (sessionStorage) and goes
// only in the Authorization header; the live feed is the server-sent event stream read with fetch(),
// since EventSource cannot send a header and a token in a URL would end up in logs.
"use strict";

const TOKEN_KEY = "trading-engine.token";
const FEED_LIMIT = 200; // lines kept in the feed: an old event scrolls away rather than piling up
const CURVE_MIN_POINTS = 30;
const POLL_MS = 3000; // prices move between events: positions and the account are read again this often
const ORDERS_LISTED = 200; // open orders read at once (the API pages by 500 at most): the newest, then a note
const $ = (id) => document.getElementById(id);

const state = { orders: [], feedOpen: false };

// ------------------------------------------------------------------ the API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json", ...authHeaders() } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "UNREACHABLE", `the service did not answer (${e.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null; // not JSON (a proxy's error page): the status says what happened
  }
  if (!response.ok) {
    if (response.status === 401) showTokenPanel();
    const code = (data && data.code) || `HTTP_${response.status}`;
    throw new ApiError(response.status, code, (data && data.message) || response.statusText);
  }
  return data;
}

// `outage`: the error of a refresh (the service unreachable, a 5xx), which says nothing once a
// later refresh succeeds; an error of the operator's own action stays until dismissed.
function showError(error, outage = false) {
  $("error-code").textContent = error.code || "ERROR";
  $("error-message").textContent = error.message;
  $("error").dataset.outage = outage ? "true" : "false";
  $("error").hidden = false;
}

function clearOutage() {
  if ($("error").dataset.outage === "true") $("error").hidden = true;
}

// Runs an action of the operator's; an API error is shown with its code and message.
async function act(action) {
  try {
    await action();
  } catch (e) {
    showError(e);
  }
  refreshSoon();
}

// ------------------------------------------------------------------ formatting

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 });

function fmtMoney(value) {
  return value === undefined || value === null ? "–" : money.format(value);
}

function fmtSigned(value) {
  if (value === undefined || value === null) return "–";
  return (value > 0 ? "+" : "") + money.format(value);
}

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "";
}

function signClass(value) {
  if (value > 0) return "up";
  if (value < 0) return "down";
  return "";
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function td(text, cls) {
  return el("td", cls ? { class: cls } : {}, text);
}

function emptyRow(columns, text) {
  return el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, text));
}

// ------------------------------------------------------------------ what the page shows

async function refreshPositions() {
  const [portfolio, account] = await Promise.all([api("GET", "/api/v1/positions"), api("GET", "/api/v1/account")]);
  $("equity").textContent = fmtMoney(account.equity);
  $("cash").textContent = fmtMoney(account.cash);
  $("buying-power").textContent = fmtMoney(account.buyingPower);
  setSigned($("daily-pnl"), account.dailyPnl);
  const unrealized = portfolio.positions.reduce((sum, p) => sum + p.unrealizedPnl, 0);
  setSigned($("unrealized"), unrealized);
  renderPositions(portfolio.positions);
}

function setSigned(node, value) {
  node.textContent = fmtSigned(value);
  node.className = `value ${signClass(value)}`;
}

function protectiveChip(orderId) {
  const order = state.orders.find((o) => o.orderId === orderId);
  const label = order ? `${order.type.replace("_", " ")} ${plain.format(order.stopPrice ?? order.limitPrice ?? order.trailPrice ?? 0)}` : orderId.slice(0, 8);
  return el("span", { class: "chip", title: orderId }, label);
}

function renderPositions(positions) {
  const body = $("positions-body");
  $("positions-count").textContent = positions.length ? String(positions.length) : "";
  if (!positions.length) {
    body.replaceChildren(emptyRow(9, "No open position."));
    return;
  }
  body.replaceChildren(
    ...positions.map((p) =>
      el(
        "tr",
        { "data-symbol": p.symbol },
        td(p.symbol, "symbol"),
        td(el("span", { class: `side ${p.side}` }, p.side)),
        td(plain.format(p.quantity), "num"),
        td(fmtMoney(p.averageEntryPrice), "num"),
        td(fmtMoney(p.currentPrice), "num price"),
        td(fmtMoney(p.marketValue), "num"),
        td(`${fmtSigned(p.unrealizedPnl)} (${fmtSigned(p.unrealizedPnlPercent)}%)`, `num ${signClass(p.unrealizedPnl)}`),
        td(el("span", { class: "chips" }, ...(p.protectiveOrderIds || []).map(protectiveChip))),
        td(
          el("button", {
            type: "button",
            class: "small ghost",
            onclick: () => closePosition(p.symbol),
          }, "Close"),
        ),
      ),
    ),
  );
}

async function refreshOrders() {
  const page = await api("GET", `/api/v1/orders?status=open&limit=${ORDERS_LISTED}`);
  state.orders = page.orders;
  renderOrders(page.orders, Boolean(page.nextCursor));
}

// `more`: the page has a next one, so more orders are open than are listed; the count says so
// ("200+") rather than passing the page's size off as the number open.
function renderOrders(orders, more = false) {
  const body = $("orders-body");
  const count = $("orders-count");
  count.textContent = orders.length ? `${orders.length}${more ? "+" : ""}` : "";
  const note = $("orders-more");
  note.textContent = more
    ? `Only the newest ${orders.length} open orders are listed; more are open. Cancel all cancels every one; GET /api/v1/orders?status=open pages through them.`
    : "";
  note.hidden = !more;
  count.title = note.textContent;
  if (!orders.length) {
    body.replaceChildren(emptyRow(9, "No open order."));
    return;
  }
  body.replaceChildren(
    ...orders.map((o) => {
      const prices = [o.limitPrice, o.stopPrice].filter((v) => v !== undefined).map(fmtMoney).join(" / ") || "–";
      return el(
        "tr",
        { "data-order-id": o.orderId },
        td(fmtTime(o.createdAt), "muted"),
        td(o.symbol, "symbol"),
        td(el("span", { class: `side ${o.side}` }, o.side)),
        td(o.type.replace("_", " ")),
        td(plain.format(o.quantity), "num"),
        td(plain.format(o.filledQuantity), "num"),
        td(prices, "num"),
        td(orderStatus(o)),
        td(
          el("button", {
            type: "button",
            class: "small ghost",
            "data-testid": "cancel-order",
            onclick: () => act(() => cancelOrder(o.orderId)),
          }, "Cancel"),
        ),
      );
    }),
  );
}

// An order in doubt reads pending_new as one the broker acknowledged does: it may not be at the broker.
function orderStatus(o) {
  if (!o.inDoubt) return o.brokerStatus.replaceAll("_", " ");
  const why = "Sent and left unanswered: perhaps at the broker, perhaps not, until the broker's stream, a lookup or its order list settles it. Do not send it again.";
  return el("span", { class: "in-doubt", title: why }, "in doubt");
}

async function cancelOrder(orderId) {
  const answer = await api("DELETE", `/api/v1/orders/${encodeURIComponent(orderId)}`);
  if (!answer.success) throw new ApiError(409, "ORDER_NOT_CANCELABLE", answer.message);
}

async function refreshRisk() {
  const risk = await api("GET", "/api/v1/risk");
  const badge = $("trading-state");
  badge.textContent = `trading: ${risk.tradingState.replace("_", " ")}`;
  badge.className = `pill ${risk.tradingState}`;
  const limits = risk.limits;
  const rows = [
    ["State", risk.tradingState.replace("_", " ")],
    ["Why", risk.reason],
    ["Set by", `${risk.changedBy || "–"} at ${fmtTime(risk.changedAt)}`],
    ["Today's P&L", fmtSigned(risk.dailyPnl)],
    ["Day trades", String(risk.daytradeCount)],
    ["Max position", `${plain.format(limits.maxPositionSizePercent)}% of equity`],
    ["Max sector", `${plain.format(limits.maxSectorExposurePercent)}%`],
    ["Max daily loss", `${plain.format(limits.maxDailyLossPercent)}%`],
    ["Max positions", String(limits.maxOpenPositions)],
    ["Wash-trade check", limits.enableWashTradeProtection ? "on" : "off"],
  ];
  $("risk").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("risk-reset").disabled = risk.tradingState === "active";
  $("halt").disabled = risk.tradingState === "halted";
}

async function refreshCurve() {
  // A minute's last snapshot each; early in the day, when that is only a few points, every snapshot.
  let history = await api("GET", "/api/v1/account/history?timeframe=1Min");
  if (history.snapshots.length < CURVE_MIN_POINTS) history = await api("GET", "/api/v1/account/history?timeframe=all");
  drawCurve(history.snapshots);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawCurve(snapshots) {
  const box = $("equity-curve");
  if (snapshots.length < 2) {
    box.replaceChildren(el("p", { class: "muted center" }, "The curve starts after two snapshots (one at each fill, and at an interval)."));
    $("curve-range").textContent = "";
    return;
  }
  const width = 720;
  const height = 180;
  const pad = { left: 78, right: 12, top: 10, bottom: 24 };
  const times = snapshots.map((s) => Date.parse(s.timestamp));
  const values = snapshots.map((s) => s.equity);
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high - low < 0.01) {
    low -= 1;
    high += 1;
  }
  const t0 = times[0];
  const t1 = Math.max(times[times.length - 1], t0 + 1);
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - low) / (high - low)) * (height - pad.top - pad.bottom);
  const points = snapshots.map((s, i) => `${x(times[i]).toFixed(1)},${y(values[i]).toFixed(1)}`).join(" ");
  const rising = values[values.length - 1] >= values[0];
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "equity today" });
  for (const v of [low, (low + high) / 2, high]) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "gridline" }));
    chart.append(svg("text", { x: pad.left - 8, y: y(v) + 4, "text-anchor": "end", class: "axis" }, money.format(v)));
  }
  const bottom = height - 6;
  chart.append(svg("text", { x: pad.left, y: bottom, class: "axis" }, fmtTime(snapshots[0].timestamp)));
  chart.append(svg("text", { x: width - pad.right, y: bottom, "text-anchor": "end", class: "axis" }, fmtTime(snapshots[snapshots.length - 1].timestamp)));
  const area = `${x(t0).toFixed(1)},${y(low)} ${points} ${x(times[times.length - 1]).toFixed(1)},${y(low)}`;
  chart.append(svg("polygon", { points: area, class: rising ? "area up" : "area down" }));
  chart.append(svg("polyline", { points, class: rising ? "line up" : "line down" }));
  box.replaceChildren(chart);
  $("curve-range").textContent = `${snapshots.length} snapshots · ${fmtMoney(values[0])} → ${fmtMoney(values[values.length - 1])}`;
}

async function loadRecentFills() {
  const page = await api("GET", "/api/v1/fills?limit=20");
  const lines = page.fills.map((f) => feedLine({
    time: f.timestamp,
    kind: "trade.order.filled",
    symbol: f.symbol,
    text: `${f.side} ${plain.format(f.quantity)} @ ${fmtMoney(f.price)}`,
    pnl: f.realizedPnl,
  }));
  $("feed").replaceChildren(...lines);
}

// ------------------------------------------------------------------ the live feed

const LABELS = {
  "trade.order.submitted": "submitted",
  "trade.order.filled": "fill",
  "trade.order.partial": "partial fill",
  "trade.order.rejected": "rejected",
  "trade.order.cancelled": "cancelled",
  "trade.position.opened": "opened",
  "trade.position.updated": "position",
  "trade.position.closed": "closed",
};

// An event's line: its order (or position) fields are the CloudEvent's data, as on NATS (docs/events).
function describe(type, data) {
  const symbol = data.symbol || "";
  if (data.fill) {
    return { symbol, text: `${data.side} ${plain.format(data.fill.quantity)} @ ${fmtMoney(data.fill.price)}`, pnl: data.realizedPnl };
  }
  if (type.startsWith("trade.position.")) {
    const held = data.side ? `${plain.format(data.quantity)} ${data.side}` : "flat";
    return { symbol, text: held, pnl: type === "trade.position.closed" ? data.realizedPnl : undefined };
  }
  const order = data.quantity !== undefined ? `${data.side} ${plain.format(data.quantity)} ${(data.type || "").replace("_", " ")}` : "";
  const why = [data.code, data.reason].filter(Boolean).join(": ");
  return { symbol, text: [order, why].filter(Boolean).join(" · ") };
}

function feedLine({ time, kind, symbol, text, pnl }) {
  return el(
    "li",
    { class: `feed-line ${kind.replaceAll(".", "-")}`, "data-kind": kind },
    el("span", { class: "time" }, fmtTime(time)),
    el("span", { class: "kind" }, LABELS[kind] || kind),
    el("span", { class: "symbol" }, symbol),
    el("span", { class: "text" }, text),
    pnl !== undefined && pnl !== null && pnl !== 0 ? el("span", { class: `pnl ${signClass(pnl)}` }, fmtSigned(pnl)) : null,
  );
}

function onEvent(kind, data) {
  if (kind === "ready") {
    setFeed(true);
    refreshAll();
    return;
  }
  if (kind === "overflow") {
    feedOverflowed(data.missed);
    return;
  }
  const feed = $("feed");
  feed.prepend(feedLine({ time: data.time, kind, ...describe(kind, data.data || {}) }));
  while (feed.children.length > FEED_LIMIT) feed.lastChild.remove();
  refreshSoon();
}

// The stream fell too far behind and the server let it go (the stream ends after this): the events
// in between will never come, so whatever the page shows is read again from the API, the feed's
// fills included, and the feed says where its gap is. The reconnect's `ready` reads it all once more.
async function feedOverflowed(missed) {
  const skipped = `${plain.format(missed)} event${missed === 1 ? "" : "s"} skipped`;
  showError(new ApiError(0, "FEED_OVERFLOW", `the live feed fell behind, ${skipped}: orders, positions, the account and the recent fills are read again from the API`));
  await Promise.all([refreshAll(), loadRecentFills().catch((e) => showError(e, true))]);
  $("feed").prepend(el(
    "li",
    { class: "feed-line feed-gap", "data-kind": "overflow" },
    el("span", { class: "time" }, fmtTime(new Date().toISOString())),
    el("span", { class: "kind" }, "gap"),
    el("span", { class: "symbol" }, ""),
    el("span", { class: "text" }, `${skipped} (the feed fell behind): the page was read again; the fills below are the latest`),
  ));
}

function setFeed(open) {
  state.feedOpen = open;
  const badge = $("feed-status");
  badge.textContent = open ? "feed: live" : "feed: reconnecting";
  badge.className = `pill ${open ? "on" : "off"}`;
}

function parseFrame(frame) {
  let kind = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue; // a keepalive comment
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  return data.length ? { kind, data: JSON.parse(data.join("\n")) } : null;
}

async function followFeed() {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 15000)) {
    try {
      const response = await fetch("/api/v1/events/stream", { headers: { Accept: "text/event-stream", ...authHeaders() } });
      if (response.status === 401) {
        showTokenPanel();
        await tokenChanged();
        continue;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (frame) onEvent(frame.kind, frame.data);
        }
      }
    } catch (e) {
      console.warn("feed:", e);
    }
    setFeed(false);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

// ------------------------------------------------------------------ refreshing

let refreshTimer = null;

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshAll, 150); // a burst of events is read once
}

async function refreshAll() {
  try {
    await refreshOrders(); // first: the positions' protective orders are looked up in it
    await Promise.all([refreshPositions(), refreshRisk(), refreshCurve()]);
    document.body.dataset.loaded = "true";
    clearOutage();
  } catch (e) {
    if (e.status !== 401) showError(e, true);
  }
}

// ------------------------------------------------------------------ the token

let tokenWaiters = [];

function tokenChanged() {
  return new Promise((resolve) => tokenWaiters.push(resolve));
}

function showTokenPanel() {
  $("token-panel").hidden = false;
  $("token-input").focus();
}

function useToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  $("token-panel").hidden = true;
  $("error").hidden = true;
  const waiters = tokenWaiters;
  tokenWaiters = [];
  waiters.forEach((resolve) => resolve());
  refreshAll();
  act(loadRecentFills);
}

// ------------------------------------------------------------------ the operator's actions

function confirmThen(title, text, action) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "yes") act(action);
  }, { once: true });
  dialog.showModal();
}

function closePosition(symbol) {
  confirmThen(`Close ${symbol}?`, `A market order closes the whole ${symbol} position.`, () =>
    api("DELETE", `/api/v1/positions/${encodeURIComponent(symbol)}`),
  );
}

function wire() {
  $("token-button").addEventListener("click", showTokenPanel);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    useToken($("token-input").value.trim());
    $("token-input").value = "";
  });
  $("token-forget").addEventListener("click", () => useToken(""));
  $("error-close").addEventListener("click", () => ($("error").hidden = true));
  $("cancel-all").addEventListener("click", () =>
    confirmThen("Cancel every open order?", "Each open order is cancelled at the broker; one that fills first stays filled.", async () => {
      const answer = await api("DELETE", "/api/v1/orders");
      if (answer.failed && answer.failed.length) {
        const first = answer.failed[0];
        throw new ApiError(409, first.code, `${answer.failed.length} not cancelled: ${first.message}`);
      }
    }),
  );
  $("close-all").addEventListener("click", () =>
    confirmThen("Close every position?", "A market order is sent for each open position.", async () => {
      const answer = await api("DELETE", "/api/v1/positions");
      if (answer.rejected && answer.rejected.length) {
        const first = answer.rejected[0];
        throw new ApiError(422, first.code, `${first.symbol}: ${first.reason}`);
      }
    }),
  );
  $("halt").addEventListener("click", () =>
    confirmThen("Halt new orders?", "Every order that adds exposure is refused (TRADING_HALTED) until trading is resumed; closes still pass.", () =>
      api("POST", "/api/v1/risk/halt", { reason: "kill switch (console)", by: "console" }),
    ),
  );
  $("risk-reset").addEventListener("click", () =>
    confirmThen("Resume trading?", "New orders are taken again (refused while today's loss is over its limit).", () =>
      api("POST", "/api/v1/risk/reset", { reason: "resumed from the console", by: "console" }),
    ),
  );
}

wire();
refreshAll();
act(loadRecentFills);
followFeed();
// Polled quietly: an error shows, but a poll does not set off another refresh.
function poll(read) {
  if (!document.hidden) read().then(clearOutage, (e) => e.status !== 401 && showError(e, true));
}
setInterval(() => poll(refreshPositions), POLL_MS);
// An order held in doubt announces nothing until it is settled: it shows by this poll alone.
setInterval(() => poll(refreshOrders), POLL_MS);
setInterval(() => poll(refreshCurve), 30000);
