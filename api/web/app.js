// The Genesis web UI. Everything the API returns is data, never markup:
// the page is built with el() (text nodes and attributes only) and never
// through innerHTML, so an ID, a model's reply or a memory record cannot
// inject script. The server's content security policy forbids inline
// script on top of that.
'use strict';
const $ = (id) => document.getElementById(id);

// el builds an element: props are attributes (for 'class', 'href', 'title',
// data-… and so on; null, undefined and false leave one out), children are
// nodes or strings, and strings always become text.
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  setProps(e, props);
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
const SVG = 'http://www.w3.org/2000/svg';
// svgEl is el for SVG elements.
function svgEl(tag, props = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  setProps(e, props);
  for (const c of children.flat()) e.append(c instanceof Node ? c : String(c));
  return e;
}
function setProps(e, props) {
  for (const [k, v] of Object.entries(props)) if (v !== null && v !== undefined && v !== false) e.setAttribute(k, String(v));
}
// fill replaces the children of the element with id.
const fill = (id, ...nodes) => $(id).replaceChildren(...nodes.flat());
// tbody returns a table's body.
const tbody = (id) => $(id).querySelector('tbody');
// hashFor is the page link of a campaign (a portfolio with kind 'portfolio').
const hashFor = (id, kind) => '#' + (kind === 'portfolio' ? 'portfolio=' : '') + encodeURIComponent(id);

// A token in the page address would sit in the history, in bookmarks and in
// any Referer: it is not taken from there. The address is cleaned up.
let token = localStorage.getItem('genesis-token') || '';
let urlTokenIgnored = false;
if (new URLSearchParams(location.search).has('token')) {
  urlTokenIgnored = true;
  history.replaceState(null, '', location.pathname + location.hash);
}
$('token').value = token;
let watching = null;

// request fetches an API path with the token; a failure throws the API's message.
async function request(path, opts = {}) {
  const r = await fetch(path, {...opts, headers: {'Authorization': 'Bearer ' + token, ...(opts.headers || {})}});
  if (!r.ok) { const j = await r.json().catch(() => ({})); throw new Error((j.error && j.error.message) || ('HTTP ' + r.status)); }
  return r;
}
async function api(method, path, body) {
  const r = await request(path, {method, headers: {'Content-Type': 'application/json'}, body: body ? JSON.stringify(body) : undefined});
  return r.json().catch(() => ({}));
}
// readEvents reads server-sent events (JSON data) from a response, calling
// onEvent(name, data) for each until it returns true or the stream ends.
async function readEvents(r, onEvent) {
  const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = '', event = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += dec.decode(value, {stream: true});
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ') && onEvent(event, JSON.parse(line.slice(6)))) return;
    }
  }
}
// pointCode shows a design point as JSON that wraps between fields.
const pointCode = (p) => el('code', {}, JSON.stringify(p).replace(/,"/g, ', "'));
// lines puts <br> between nodes.
const lines = (nodes) => nodes.flatMap((n, i) => i ? [el('br'), n] : [n]);
const temporalLink = (id) => `http://${location.hostname}:8233/namespaces/default/workflows/${encodeURIComponent(id)}`;
function showError(e) { $('error').textContent = e ? String(e.message || e) : ''; }
const num = (v) => Number(v);

async function loadChallenges() {
  const j = await api('GET', '/api/v1/challenges');
  fill('challenge', (j.challenges || []).map(c => el('option', {value: c.ID}, c.ID)));
  $('challenge').value = 'crossed-barrel-toughness';
}
// link is an <a> to a page hash that opens what it names on click.
function link(text, id, kind, open) {
  const a = el('a', {href: hashFor(id, kind)}, text);
  a.addEventListener('click', (ev) => { ev.preventDefault(); open(id); });
  return a;
}
async function loadCampaigns() {
  const j = await api('GET', '/api/v1/campaigns');
  const rows = (j.campaigns || []).map(c => el('tr', {},
    el('td', {}, link(c.id, c.id, 'campaign', openCampaign)), el('td', {}, c.strategy || ''), el('td', {}, c.status),
    el('td', {}, new Date(c.started).toLocaleString())));
  tbody('campaigns').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', {colspan: 4, class: 'muted'}, 'no campaigns yet'))]));
}

function drawPlot(st) {
  const vals = (st.values || []).map(num).filter(Number.isFinite);
  const svg = $('plot');
  const W = 640, H = 260, L = 50, B = 30, T = 10, R = 10;
  if (vals.length === 0) { svg.replaceChildren(svgEl('text', {x: 60, y: 130, fill: '#888'}, 'no lab results yet')); return; }
  const minimize = st.direction === 'minimize';
  const best = []; let b = null;
  for (const v of vals) { if (b === null || (minimize ? v < b : v > b)) b = v; best.push(b); }
  const lo = Math.min(...vals), hi = Math.max(...vals), span = (hi - lo) || 1;
  const x = (i) => L + (W - L - R) * (vals.length === 1 ? 0.5 : i / (vals.length - 1));
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / span);
  svg.replaceChildren(
    svgEl('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999'}), svgEl('line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#999'}),
    svgEl('text', {x: W / 2, y: H - 5, 'font-size': 12, 'text-anchor': 'middle'}, `lab experiments (${vals.length})`),
    svgEl('text', {x: 5, y: T + 10, 'font-size': 11}, hi.toPrecision(4)), svgEl('text', {x: 5, y: H - B, 'font-size': 11}, lo.toPrecision(4)),
    ...vals.map((v, i) => svgEl('circle', {class: 'measured', cx: x(i), cy: y(v), r: 3, fill: '#9ab'})),
    svgEl('polyline', {class: 'best', fill: 'none', stroke: '#1f3a5f', 'stroke-width': 2, points: best.map((v, i) => x(i) + ',' + y(v)).join(' ')}));
}

// strategyText is a campaign's strategy with the optimiser settings it
// shows: "bo (acquisition ei, init medoids:5, batch 1)".
function strategyText(st) {
  const parts = [];
  if (st.acquisition) parts.push('acquisition ' + st.acquisition);
  if (st.init) parts.push('init ' + st.init);
  if (st.batch) parts.push('batch ' + st.batch);
  return st.strategy + (parts.length ? ` (${parts.join(', ')})` : '');
}
function showStatus(st) {
  $('c-title').textContent = `${st.campaign_id}`;
  const bestTxt = st.best ? `best ${st.objective} ${num(st.best.value).toPrecision(4)}` : 'no result yet';
  $('c-strategy').textContent = st.strategy ? 'strategy ' + strategyText(st) : '';
  $('c-summary').textContent = `${st.challenge} · ${st.done ? 'done: ' + st.stop_reason : st.phase} · iteration ${st.iteration} · ${st.experiments_used}/${st.budget} experiments · ${st.simulations} simulations · ${st.tokens} tokens · ${bestTxt}`;
  $('stop').hidden = st.done;
  $('pause').hidden = st.done || st.paused;
  $('resume').hidden = st.done || !st.paused;
  $('pending').hidden = !st.pending;
  if (st.pending) {
    fill('pending-points', (st.pending.points || []).map(p => el('li', {}, pointCode(p))));
    $('pending-why').textContent = st.pending.rationale || '';
    $('pending').dataset.iteration = st.pending.iteration;
  }
  drawPlot(st);
  $('events').textContent = (st.events || []).slice(-40).map(e => `it${e.iteration} ${String(e.agent).padEnd(20)} ${String(e.action).padEnd(18)} ${e.detail}`).join('\n');
}

async function openCampaign(id) {
  $('campaign').hidden = false;
  $('campaign').dataset.id = id;
  $('temporal-link').href = temporalLink(id);
  if (watching) watching.abort();
  watching = new AbortController();
  try {
    const r = await request(`/api/v1/campaigns/${encodeURIComponent(id)}/watch`, {signal: watching.signal});
    await readEvents(r, (event, data) => { if (event === 'status') showStatus(data); });
    loadCampaigns();
  } catch (e) { if (e.name !== 'AbortError') showError(e); }
}

// spend shows spent against budget, with a bar when there is a budget.
function spend(spent, budget) {
  const n = (v) => Number.isInteger(v) ? String(v) : num(v).toPrecision(3);
  if (!budget) return [n(spent)];
  const pct = Math.max(0, Math.min(100, 100 * spent / budget));
  const fillBar = el('i');
  fillBar.style.width = pct + '%'; // through the CSSOM: allowed by the content security policy
  return [el('span', {class: 'bar', title: pct.toFixed(0) + '%'}, fillBar), `${n(spent)}/${n(budget)}`];
}
async function loadPortfolios() {
  const j = await api('GET', '/api/v1/portfolios');
  const rows = (j.portfolios || []).map(p => el('tr', {},
    el('td', {}, link(p.id, p.id, 'portfolio', openPortfolio)), el('td', {}, p.status), el('td', {}, new Date(p.started).toLocaleString())));
  tbody('portfolios').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', {colspan: 3, class: 'muted'}, 'no portfolios yet'))]));
}
let pfTimer = null;
// requestKind describes a portfolio request: "2 lab run(s)".
const requestKind = (r) => `${r.n} ${r.kind === 'lab' ? 'lab run(s)' : r.kind === 'hpc' ? 'simulation job(s)' : 'model call(s)'}`;
function showPortfolio(st) {
  $('pf-title').textContent = `${st.id} — ${st.name}`;
  const state = st.done ? 'done' : (st.stopping ? 'stopping: ' + st.stopping : (st.paused ? 'paused by ' + st.paused : 'running'));
  $('pf-summary').textContent = `${state} · in use: lab ${st.in_use.lab}/${st.capacity.lab}, HPC ${st.in_use.hpc}/${st.capacity.hpc}, model calls ${st.in_use.model}/${st.capacity.model} · ${st.grants} grants · spent ${st.spent.lab_runs} lab runs, ${st.spent.simulations} simulations, ${st.spent.tokens} tokens, cost ${num(st.spent.cost).toPrecision(3)}` + (st.budget.lab_runs ? ` of ${st.budget.lab_runs} lab runs` : '');
  $('pf-stop').hidden = st.done;
  $('pf-pause').hidden = st.done || !!st.paused;
  $('pf-resume').hidden = st.done || !st.paused;
  tbody('pf-campaigns').replaceChildren(...(st.campaigns || []).map(c => el('tr', {},
    el('td', {}, link(c.challenge, c.id, 'campaign', openCampaign), el('div', {class: 'muted'}, c.strategy)),
    el('td', {}, String(c.priority), c.priority !== c.base_priority ? ` (was ${c.base_priority})` : ''),
    el('td', {}, c.done ? ['done', el('div', {class: 'muted'}, c.reason)] : (c.flag || 'running')),
    el('td', {}, String(c.iteration)), el('td', {}, c.best == null ? '–' : num(c.best).toPrecision(4)),
    el('td', {}, spend(c.spent.lab_runs, c.budget.lab_runs)), el('td', {}, spend(c.spent.simulations, c.budget.simulations)),
    el('td', {}, spend(c.spent.tokens, c.budget.tokens)), el('td', {}, spend(c.spent.cost, c.budget.cost)), el('td', {}, c.waiting || '–'))));
  const pend = st.pending || [];
  $('pf-pending').hidden = pend.length === 0;
  const decide = (verb, a) => async () => {
    try { showError(''); await api('POST', `/api/v1/portfolios/${encodeURIComponent(st.id)}/approvals/${encodeURIComponent(a.id)}/${verb}`); refreshPortfolio(); } catch (e) { showError(e); }
  };
  tbody('pf-approvals').replaceChildren(...pend.map(a => {
    const approve = el('button', {class: 'pf-approve'}, 'Approve'), reject = el('button', {class: 'pf-reject danger'}, 'Reject');
    approve.addEventListener('click', decide('approve', a));
    reject.addEventListener('click', decide('reject', a));
    return el('tr', {class: 'approval'}, el('td', {}, a.id), el('td', {}, a.challenge),
      el('td', {}, `${requestKind(a.request)}, cost ${a.cost}`, el('div', {class: 'muted'}, lines((a.request.points || []).map(pointCode)))),
      el('td', {}, (a.reasons || []).join('; ')),
      el('td', {}, `${a.role}${a.escalated ? ' (escalated)' : ''}, until ${new Date(a.deadline).toLocaleTimeString()}`),
      el('td', {}, approve, ' ', reject));
  }));
  $('pf-log').textContent = (st.log || []).slice(-40).map(r => `${new Date(r.time).toLocaleTimeString()} ${String(r.kind).padEnd(13)} ${String(r.to || r.campaign || '').padEnd(30)} ${r.detail}`).join('\n');
}
async function refreshPortfolio() {
  const id = $('portfolio').dataset.id;
  if (!id) return;
  try {
    const st = await api('GET', `/api/v1/portfolios/${encodeURIComponent(id)}`);
    showPortfolio(st);
    if (st.done && pfTimer) { clearInterval(pfTimer); pfTimer = null; loadPortfolios(); }
  } catch (e) { showError(e); }
}
function openPortfolio(id) {
  $('portfolio').hidden = false;
  $('portfolio').dataset.id = id;
  $('pf-temporal-link').href = temporalLink(id);
  if (pfTimer) clearInterval(pfTimer);
  pfTimer = setInterval(refreshPortfolio, 2000);
  refreshPortfolio();
}
$('pf-start').onclick = async () => {
  try {
    showError('');
    const r = await request('/api/v1/portfolios', {method: 'POST', headers: {'Content-Type': 'application/yaml'}, body: $('pf-file').value});
    const j = await r.json().catch(() => ({}));
    $('pf-result').textContent = 'started ' + j.id;
    await loadPortfolios();
    openPortfolio(j.id);
  } catch (e) { showError(e); }
};
const portfolioAction = (verb) => async () => {
  try { showError(''); await api('POST', `/api/v1/portfolios/${encodeURIComponent($('portfolio').dataset.id)}/${verb}`); refreshPortfolio(); } catch (e) { showError(e); }
};
$('pf-pause').onclick = portfolioAction('pause');
$('pf-resume').onclick = portfolioAction('resume');
$('pf-stop').onclick = portfolioAction('stop');

let chatID = sessionStorage.getItem('genesis-chat') || '';
function renderChat(messages) {
  fill('chat-log', messages.map(m => el('div', {class: 'msg ' + (m.role === 'user' ? 'user' : 'assistant') + (m.partial ? ' partial' : '')},
    el('b', {}, m.role === 'user' ? 'you:' : 'team:'), ' ', el('span', {}, m.text), m.partial ? [' ', el('span', {class: 'muted'}, '…')] : [])));
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}
async function sendChat() {
  const text = $('chat-input').value.trim();
  if (!text) return;
  try {
    showError('');
    if (!chatID) { chatID = (await api('POST', '/api/v1/chats')).id; sessionStorage.setItem('genesis-chat', chatID); }
    $('chat-input').value = '';
    $('chat-status').textContent = 'the team is thinking…';
    const path = `/api/v1/chats/${encodeURIComponent(chatID)}`;
    const st0 = await api('GET', path).catch(() => ({messages: []}));
    renderChat([...(st0.messages || []), {role: 'user', text}]);
    // The reply streams in (server-sent events) as the model writes it.
    const r = await request(path + '/messages', {method: 'POST',
      headers: {'Content-Type': 'application/json', 'Accept': 'text/event-stream'}, body: JSON.stringify({text})});
    let reply = null;
    await readEvents(r, (event, data) => {
      if (event === 'delta') { $('chat-status').textContent = ''; renderChat([...(st0.messages || []), {role: 'user', text}, {role: 'assistant', text: data.text, partial: true}]); }
      else if (event === 'reply') reply = data;
      else if (event === 'error') throw new Error(data.message);
      return reply !== null;
    });
    if (reply === null) throw new Error('the answer was cut off; try again');
    const st = await api('GET', path);
    renderChat(st.messages || []);
    $('chat-status').textContent = '';
    loadWaiting().catch(() => {});
    if (reply.action && reply.action.campaign_id) { await loadCampaigns(); openCampaign(reply.action.campaign_id); }
  } catch (e) { $('chat-status').textContent = ''; showError(e); }
}
$('chat-send').onclick = sendChat;
$('chat-input').addEventListener('keydown', (e) => { if (e.key === 'Enter') sendChat(); });
$('save-token').onclick = () => { token = $('token').value.trim(); localStorage.setItem('genesis-token', token); urlTokenIgnored = false; init(); };
// The optimiser's settings are offered for bo, the strategy they steer.
$('strategy').onchange = () => { $('bo-settings').hidden = $('strategy').value !== 'bo'; };
$('start').onclick = async () => {
  try {
    showError('');
    const body = {challenge: $('challenge').value, budget: parseInt($('budget').value || '0'), require_approval: $('approval').checked, strategy: $('strategy').value};
    if (body.strategy === 'bo') {
      body.acquisition = $('acquisition').value;
      if ($('init').value.trim()) body.init = $('init').value.trim();
      // Out of range or fractional, it still goes: the API says what it wants.
      if ($('batch').value !== '') body.batch = Number($('batch').value);
    }
    const j = await api('POST', '/api/v1/campaigns', body);
    $('start-result').textContent = 'started ' + j.id;
    await loadCampaigns();
    openCampaign(j.id);
  } catch (e) { showError(e); }
};
// campaignAction sends a campaign an action; a decision names the
// iteration of the runs on screen, so runs that replaced them are not decided.
const campaignAction = (action) => async () => {
  const it = Number($('pending').dataset.iteration || 0);
  const body = (action === 'approve' || action === 'reject') && it ? {iteration: it} : undefined;
  try { showError(''); await api('POST', `/api/v1/campaigns/${encodeURIComponent($('campaign').dataset.id)}/${action}`, body); } catch (e) { showError(e); }
};
$('pause').onclick = campaignAction('pause');
$('resume').onclick = campaignAction('resume');
$('approve').onclick = campaignAction('approve');
$('reject').onclick = campaignAction('reject');
$('stop').onclick = async () => {
  try { await api('POST', `/api/v1/campaigns/${encodeURIComponent($('campaign').dataset.id)}/stop`); } catch (e) { showError(e); }
};
// loadWaiting shows every decision people owe (campaigns' lab runs and
// portfolios' approvals), on every view, with buttons that decide it.
let waitingBusy = false;
async function loadWaiting() {
  if (waitingBusy) return; // the last listing is still under way
  waitingBusy = true;
  let j;
  try { j = await api('GET', '/api/v1/approvals'); } finally { waitingBusy = false; }
  const items = j.approvals || [];
  $('waiting').hidden = items.length === 0;
  $('waiting-n').textContent = items.length;
  const decide = (w, key) => async (ev) => {
    try {
      showError(''); await api('POST', w[key], w.kind === 'campaign' ? {iteration: w.iteration} : undefined);
      // Decided: drop its row now (the next listing no longer has it).
      ev.target.closest('tr').remove();
      const left = document.querySelectorAll('#waiting-list tr.waiting-item').length;
      $('waiting-n').textContent = left;
      $('waiting').hidden = left === 0;
    } catch (e) { showError(e); }
  };
  tbody('waiting-list').replaceChildren(...items.map(w => {
    const where = w.kind === 'portfolio' ?
      ['portfolio ', link(w.portfolio, w.portfolio, 'portfolio', openPortfolio), ` (${w.approval})`, el('div', {class: 'muted'}, w.challenge)] :
      ['campaign ', link(w.campaign, w.campaign, 'campaign', openCampaign)];
    const approve = el('button', {class: 'w-approve'}, 'Approve'), reject = el('button', {class: 'w-reject danger'}, 'Reject');
    approve.addEventListener('click', decide(w, 'approve'));
    reject.addEventListener('click', decide(w, 'reject'));
    return el('tr', {class: 'waiting-item'}, el('td', {}, where),
      el('td', {class: 'what'}, w.what, el('div', {class: 'muted'}, lines((w.points || []).map(pointCode)))), el('td', {class: 'why'}, w.why || ''),
      el('td', {}, w.role ? `an ${w.role}, until ${new Date(w.deadline).toLocaleTimeString()}` : 'an operator'),
      el('td', {}, approve, ' ', reject));
  }));
}
async function init() {
  if (!token) {
    showError((urlTokenIgnored ? 'A token in the page address is not used (it would stay in the browser history): ' : '') +
      'Paste an API token (the admin token is in $GENESIS_HOME/admin.token) and press "Use token".');
    return;
  }
  try {
    showError(''); await loadChallenges(); await loadCampaigns(); await loadPortfolios(); loadWaiting().catch(showError);
    const h = location.hash.slice(1);
    if (h.startsWith('portfolio=')) openPortfolio(decodeURIComponent(h.slice(10))); else if (h) openCampaign(decodeURIComponent(h));
  }
  catch (e) { showError(e); }
}
init();
setInterval(() => { if (token) { loadCampaigns().catch(() => {}); loadPortfolios().catch(() => {}); loadWaiting().catch(() => {}); } }, 5000);
