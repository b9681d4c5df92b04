// Snodo search widget: <snodo-search>, a web component that searches every participatory process
// harvested by a Snodo hub. One file, no dependencies, no build step:
//   <script type="module" src="https://HUB/widget.js"></script>
//   <snodo-search region="16" status="open"></snodo-search>
// Safety rule: harvested strings only ever reach the DOM as text nodes (textContent / append); the one
// piece of markup accepted is the <mark> of the API's already-escaped snippets, rebuilt here node by node.
// The same file also enhances the hub's "embed this search" page (see the end of the file).

const ORIGIN = (() => { try { return new URL(import.meta.url).origin; } catch { return ''; } })();

const KINDS = ['process', 'assembly', 'consultation', 'conference', 'initiative', 'meeting', 'proposal', 'experience'];
const STATUSES = ['open', 'upcoming', 'closed'];
const SORTS = ['relevance', 'newest', 'closing'];
const FILTERS = ['kind', 'status', 'region', 'topic', 'method', 'source'];
// The national topics: the 13 DCAT-AP data themes, [code, Italian, English].
const TOPICS = [['AGRI', 'Agricoltura e alimentazione', 'Agriculture and food'], ['ECON', 'Economia e finanze', 'Economy and finance'],
  ['EDUC', 'Istruzione, cultura e sport', 'Education, culture and sport'], ['ENER', 'Energia', 'Energy'], ['ENVI', 'Ambiente', 'Environment'],
  ['GOVE', 'Governo e settore pubblico', 'Government and public sector'], ['HEAL', 'Salute', 'Health'],
  ['INTR', 'Tematiche internazionali', 'International issues'], ['JUST', 'Giustizia e sicurezza', 'Justice and public safety'],
  ['REGI', 'Regioni e città', 'Regions and cities'], ['SOCI', 'Popolazione e società', 'Population and society'],
  ['TECH', 'Scienza e tecnologia', 'Science and technology'], ['TRAN', 'Trasporti', 'Transport']];
// Place presets an embedding site sets once (its comune, its province…): sent with every search,
// no control of their own.
const PRESETS = ['comune', 'province', 'place', 'scope'];
const METHODS = ['proposals', 'budgets', 'surveys', 'meetings', 'debates', 'consultation'];
// 2-digit ISTAT region codes; a list, not an object, since "10".."20" would sort before "01" as keys
const REGIONS = new Map(['Piemonte', "Valle d'Aosta", 'Lombardia', 'Trentino-Alto Adige', 'Veneto', 'Friuli-Venezia Giulia',
  'Liguria', 'Emilia-Romagna', 'Toscana', 'Umbria', 'Marche', 'Lazio', 'Abruzzo', 'Molise', 'Campania', 'Puglia',
  'Basilicata', 'Calabria', 'Sicilia', 'Sardegna'].map((n, i) => [String(i + 1).padStart(2, '0'), n]));

const I18N = {
  it: {
    label: 'Cerca tra i processi partecipativi in Italia',
    placeholder: 'Es. bilancio partecipativo, mobilità, Bari',
    search: 'Cerca',
    alsoOn: 'anche su',
    partOf: 'Parte di',
    filters: 'Filtri',
    place: 'Comune o provincia', placeEg: 'Es. Casalecchio di Reno',
    kind: 'Tipo', status: 'Stato', region: 'Regione', topic: 'Tema', method: 'Come partecipare', source: 'Piattaforma', sort: 'Ordina per',
    any: 'Qualsiasi',
    methods: { proposals: 'Proposte', budgets: 'Bilancio partecipativo', surveys: 'Questionari', meetings: 'Incontri', debates: 'Dibattiti', consultation: 'Consultazione' },
    sorts: { relevance: 'Pertinenza', newest: 'Più recenti', closing: 'In scadenza' },
    kinds: {
      process: 'Processo', assembly: 'Assemblea', consultation: 'Consultazione', conference: 'Conferenza',
      initiative: 'Iniziativa', meeting: 'Incontro', proposal: 'Proposta', experience: 'Esperienza',
    },
    statuses: { open: 'Aperto', upcoming: 'In arrivo', closed: 'Concluso' },
    methods: {
      proposals: 'proposte', meetings: 'incontri', surveys: 'questionari', budgets: 'bilancio partecipativo',
      debates: 'dibattiti', accountability: 'monitoraggio', blogs: 'notizie', pages: 'pagine', sortitions: 'sorteggi',
    },
    count: (n, q) => (n === 1 ? '1 risultato' : `${n} risultati`) + (q ? ` per «${q}»` : ''),
    shown: (a, n) => `mostrati ${a} di ${n}`,
    none: (q) => `Nessun risultato${q ? ` per «${q}»` : ''}. Prova con altre parole o togli qualche filtro.`,
    above: (n) => (n === 1 ? 'Un altro risultato riguarda' : `Altri ${n} risultati riguardano`) + ' anche questo territorio (provincia, regione o tutta Italia).',
    showAbove: 'Mostra anche questi',
    more: 'Altri risultati',
    loading: 'Ricerca in corso…',
    results: 'Risultati della ricerca',
    unreachable: 'Il servizio di ricerca non è raggiungibile in questo momento. Controlla la connessione e riprova tra poco.',
    rate: (s) => `Troppe ricerche in poco tempo. Riprova tra ${s ? `${s} secondi` : 'qualche istante'}.`,
    invalid: 'La ricerca non è valida',
    server: 'Il servizio di ricerca ha avuto un problema. Riprova tra poco.',
    retry: 'Riprova',
    newWindow: '(si apre in una nuova finestra)',
    where: 'Dove:',
    untitled: 'Senza titolo',
    until: 'fino al', from: 'dal', closedOn: 'chiuso il', to: 'al',
    via: 'Ricerca nazionale della partecipazione',
    locale: 'it-IT',
  },
  en: {
    label: 'Search participatory processes in Italy',
    placeholder: 'E.g. participatory budget, mobility, Bari',
    search: 'Search',
    alsoOn: 'also on',
    partOf: 'Part of',
    filters: 'Filters',
    place: 'Comune or province', placeEg: 'E.g. Merano',
    kind: 'Type', status: 'Status', region: 'Region', topic: 'Topic', method: 'How to take part', source: 'Platform', sort: 'Sort by',
    any: 'Any',
    methods: { proposals: 'Proposals', budgets: 'Participatory budget', surveys: 'Surveys', meetings: 'Meetings', debates: 'Debates', consultation: 'Consultation' },
    sorts: { relevance: 'Relevance', newest: 'Newest', closing: 'Closing soon' },
    kinds: {
      process: 'Process', assembly: 'Assembly', consultation: 'Consultation', conference: 'Conference',
      initiative: 'Initiative', meeting: 'Meeting', proposal: 'Proposal', experience: 'Experience',
    },
    statuses: { open: 'Open', upcoming: 'Upcoming', closed: 'Closed' },
    methods: {
      proposals: 'proposals', meetings: 'meetings', surveys: 'surveys', budgets: 'participatory budget',
      debates: 'debates', accountability: 'accountability', blogs: 'news', pages: 'pages', sortitions: 'sortitions',
    },
    count: (n, q) => (n === 1 ? '1 result' : `${n} results`) + (q ? ` for “${q}”` : ''),
    shown: (a, n) => `showing ${a} of ${n}`,
    none: (q) => `No results${q ? ` for “${q}”` : ''}. Try other words or remove some filters.`,
    above: (n) => (n === 1 ? 'One more result also concerns' : `${n} more results also concern`) + ' this place (its province, region or all of Italy).',
    showAbove: 'Show these too',
    more: 'More results',
    loading: 'Searching…',
    results: 'Search results',
    unreachable: 'The search service cannot be reached right now. Check your connection and try again shortly.',
    rate: (s) => `Too many searches in a short time. Try again in ${s ? `${s} seconds` : 'a moment'}.`,
    invalid: 'The search is not valid',
    server: 'The search service had a problem. Please try again shortly.',
    retry: 'Try again',
    newWindow: '(opens in a new window)',
    where: 'Where:',
    untitled: 'Untitled',
    until: 'until', from: 'from', closedOn: 'closed on', to: 'to',
    via: 'National participation search',
    locale: 'en-GB',
  },
};

const CSS = `
:host{display:block;font-family:var(--snodo-font,"Titillium Web",-apple-system,"Segoe UI",system-ui,Roboto,"Helvetica Neue",Arial,sans-serif);color:var(--snodo-text,#1a1a1a);font-size:var(--snodo-font-size,1rem);line-height:1.5;--p:var(--snodo-primary,#0066cc);--pd:var(--snodo-primary-dark,#004d99);--m:var(--snodo-muted,#5c6f82);--b:var(--snodo-border,#5c6f82);--bg:var(--snodo-bg,#fff);--s:var(--snodo-surface,#f5f7fa);--r:var(--snodo-radius,4px);--f:var(--snodo-focus,#ff9900);--g:var(--snodo-gap,1rem)}
:host([hidden]){display:none}
*{box-sizing:border-box}
.sn{background:var(--bg);max-width:var(--snodo-max-width,none)}
.vh{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
form{margin:0 0 var(--g)}
.lbl{display:block;font-weight:600;margin-bottom:.25rem}
.bar{display:flex;gap:.5rem}
input,select,button{font:inherit;color:inherit}
input[type=search]{flex:1;min-width:0;padding:.5rem .75rem;min-height:2.75rem;border:1px solid var(--b);border-radius:var(--r);background:var(--bg)}
input::placeholder{color:var(--m);opacity:1}
button{cursor:pointer;border-radius:var(--r);min-height:2.75rem;padding:.5rem 1.25rem;font-weight:600;border:2px solid var(--p)}
.go{background:var(--p);color:#fff}
.go:hover{background:var(--pd);border-color:var(--pd)}
.sec{background:var(--bg);color:var(--p)}
.sec:hover{background:var(--s);color:var(--pd)}
:focus-visible{outline:3px solid var(--f);outline-offset:2px;box-shadow:0 0 0 5px var(--snodo-focus-ring,#1a1a1a)}
a:focus-visible{border-radius:2px}
.flt{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,9rem),1fr));gap:.5rem var(--g);margin:.75rem 0 0;padding:0;border:0;min-width:0}
.flt label{display:block;font-size:.875rem;font-weight:600;color:var(--m)}
select,.flt input{width:100%;min-height:2.5rem;padding:.375rem .5rem;border:1px solid var(--b);border-radius:var(--r);background:var(--bg)}
.cnt{margin:0 0 .5rem;font-weight:600;min-height:1.5em}
.err:empty{display:none}
.err{border-left:4px solid var(--snodo-danger,#cc334d);background:#fdf2f4;padding:.75rem 1rem;margin:0 0 var(--g);border-radius:var(--r)}
.err p{margin:0 0 .5rem}
.err button{min-height:2.25rem;padding:.25rem 1rem}
ol{list-style:none;margin:0;padding:0}
.card{border-top:1px solid #d9dadb;padding:var(--g) 0}
.card:last-child{border-bottom:1px solid #d9dadb}
.meta{margin:0;font-size:.875rem;color:var(--m);text-transform:uppercase;letter-spacing:.02em;font-weight:600}
.ttl{margin:.125rem 0 .25rem;font-size:1.25rem;line-height:1.3;font-weight:700}
.ttl a{color:var(--p);text-decoration:underline;text-underline-offset:2px}
.ttl a:hover{color:var(--pd);text-decoration-thickness:2px}
.info{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem .75rem;margin:.25rem 0;font-size:.9375rem}
.badge{display:inline-block;padding:0 .5rem;border-radius:var(--r);color:#fff;font-size:.8125rem;font-weight:700;text-transform:uppercase;letter-spacing:.03em;line-height:1.6}
.b-open{background:var(--snodo-success,#008055)}
.b-upcoming{background:var(--p)}
.b-closed{background:var(--m)}
.txt{margin:.25rem 0 0;overflow-wrap:anywhere}
mark{background:var(--snodo-mark,#ffe08a);color:inherit;padding:0 .1em;border-radius:2px}
.mth{margin:.25rem 0 0;font-size:.875rem;color:var(--m)}
.foot{margin-top:var(--g);text-align:center}
.via{margin:var(--g) 0 0;font-size:.8125rem;color:var(--m);text-align:right}
.via a{color:var(--m)}
.busy .cnt::after{content:"";display:inline-block;width:.75em;height:.75em;margin-left:.5em;border:2px solid var(--p);border-right-color:transparent;border-radius:50%;vertical-align:-.05em}
@media (prefers-reduced-motion:no-preference){.busy .cnt::after{animation:spin .8s linear infinite}.card{animation:fade .2s ease-out}}
@keyframes spin{to{transform:rotate(1turn)}}
@keyframes fade{from{opacity:0}}
.page .ttl{font-size:1.375rem}
.page input[type=search]{font-size:1.125rem;min-height:3rem}
.page .go{min-height:3rem}
.compact .card{padding:.625rem 0}
.compact .ttl{font-size:1.0625rem}
.compact .mth,.compact .via{display:none}
@media (forced-colors:active){.badge{border:1px solid}mark{forced-color-adjust:none}}
`;

const h = (tag, props, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k, v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k != null && k !== false) el.append(k); // strings become text nodes
  return el;
};

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
/** Decodes the character references an HTML escaper produces; anything else stays literal text. */
export const decodeEntities = (s) => s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
  if (e[0] === '#') {
    const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return n > 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff) ? String.fromCodePoint(n) : m;
  }
  return ENTITIES[e.toLowerCase()] ?? m;
});

/** The API's snippet is escaped text with literal <mark>…</mark> around matched words: split on those
 * tokens only and build text nodes and <mark> elements; no HTML parser ever sees harvested text. */
export const snippetNodes = (snippet) => {
  const out = [];
  let marked = false;
  for (const part of String(snippet).split(/(<\/?mark>)/)) {
    if (part === '<mark>') marked = true;
    else if (part === '</mark>') marked = false;
    else if (part) out.push(marked ? h('mark', null, decodeEntities(part)) : document.createTextNode(decodeEntities(part)));
  }
  return out;
};

const safeUrl = (u) => {
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch { return null; }
};
const okLang = (l) => (typeof l === 'string' && /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(l) ? l : null);
const clip = (s, n) => (s.length > n ? `${s.slice(0, n).replace(/\s+\S*$/, '')}…` : s);

/** The query as sent: trimmed, but a space typed after the last word is kept, because it says
 * the word is finished (`casa ` is that word; `casa` also its completions, `Casalecchio`…). */
const queryText = (q) => {
  const words = q.trim();
  return words && /\s$/.test(q) ? `${words} ` : words;
};

function retrySeconds(v) {
  if (!v) return 0;
  if (/^\d+$/.test(v.trim())) return +v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : Math.max(1, Math.ceil((t - Date.now()) / 1000));
}

let uid = 0;

export class SnodoSearch extends HTMLElement {
  static observedAttributes = ['api', 'lang', 'region', 'kind', 'status', 'topic', 'method', 'source', ...PRESETS, 'sort', 'limit', 'placeholder', 'compact', 'mode', 'heading-level'];

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this._id = `sn${++uid}`;
    this._items = [];
    this._sources = null;
  }

  connectedCallback() {
    if (!this._st) this._st = this._initialState();
    this._build();
    this._run();
  }

  disconnectedCallback() {
    clearTimeout(this._timer);
    this._ctl?.abort();
  }

  attributeChangedCallback(name, old, val) {
    if (!this._st || old === val) return;
    if (FILTERS.includes(name) || name === 'sort') this._st[name] = val || '';
    if (this.isConnected && !this._pending) {
      this._pending = true;
      queueMicrotask(() => { this._pending = false; this._build(); this._run(); });
    }
  }

  get _lang() { return (this.getAttribute('lang') || '').toLowerCase().startsWith('en') ? 'en' : 'it'; }
  get _t() { return I18N[this._lang]; }
  get _page() { return this.getAttribute('mode') === 'page'; }
  get _compact() { return this.hasAttribute('compact'); }
  get _api() { return (this.getAttribute('api') || ORIGIN).replace(/\/+$/, ''); }
  get _limit() {
    const n = parseInt(this.getAttribute('limit'), 10);
    return n >= 1 ? Math.min(n, 100) : this._compact ? 5 : 20;
  }

  _initialState() {
    const st = { q: '', sort: this.getAttribute('sort') || '' };
    for (const f of [...FILTERS, ...PRESETS]) st[f] = this.getAttribute(f) || '';
    if (this._page) {
      const p = new URLSearchParams(location.search);
      for (const k of ['q', 'sort', ...FILTERS, ...PRESETS]) if (p.has(k)) st[k] = p.get(k);
    }
    return st;
  }

  _build() {
    const t = this._t;
    const id = this._id;
    const root = this.shadowRoot;
    // a constructable sheet is not inline style: a host page's strict CSP does not block it
    const adopt = 'adoptedStyleSheets' in root && 'replaceSync' in CSSStyleSheet.prototype;
    if (adopt && !root.adoptedStyleSheets.length) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    }
    const lvl = Math.min(6, Math.max(2, parseInt(this.getAttribute('heading-level'), 10) || 3));
    this._hl = `h${lvl}`;

    this._q = h('input', {
      id: `${id}q`, type: 'search', name: 'q', autocomplete: 'off', enterkeyhint: 'search',
      placeholder: this.getAttribute('placeholder') || t.placeholder, input: () => this._typed(),
    });
    this._q.value = this._st.q;
    const form = h('form', { role: 'search', 'aria-label': t.label, submit: (e) => { e.preventDefault(); this._st.q = this._q.value; this._takePlace(); this._run(); } },
      h('label', { class: 'lbl', for: `${id}q` }, t.label),
      h('div', { class: 'bar' }, this._q, h('button', { type: 'submit', class: 'go' }, t.search)));

    this._sel = {};
    this._placeIn = null;
    if (!this._compact) {
      const flt = h('fieldset', { class: 'flt' }, h('legend', { class: 'vh' }, t.filters));
      for (const f of [...FILTERS, 'sort']) {
        const sel = h('select', { id: `${id}${f}`, name: f, change: () => { this._st[f] = sel.value; this._run(); } });
        this._sel[f] = sel;
        flt.append(h('div', null, h('label', { for: sel.id }, t[f]), sel));
        // "near me": a place typed by name or code, unless the embedding site fixed one
        if (f === 'region' && !['comune', 'province', 'place'].some((a) => this.hasAttribute(a))) {
          const inp = h('input', {
            id: `${id}place`, name: 'place', maxlength: '100', autocomplete: 'off', placeholder: t.placeEg,
            change: () => { if (this._takePlace()) this._run(); },
          });
          inp.value = this._st.place || this._st.comune || this._st.province || '';
          this._placeIn = inp;
          flt.append(h('div', null, h('label', { for: inp.id }, t.place), inp));
        }
      }
      form.append(flt);
      this._fillSelects();
    }

    this._count = h('p', { class: 'cnt', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
    this._err = h('div', { class: 'err', role: 'alert' });
    // What concerns a preset place from above (its province, region, Italy), one click away.
    this._aboveText = h('span');
    this._above = h('p', { class: 'above', hidden: true }, this._aboveText, ' ',
      h('button', { type: 'button', class: 'sec', click: () => { this._st.scope = 'all'; this._run(); } }, t.showAbove));
    this._list = h('ol', { class: 'list', 'aria-label': t.results });
    this._more = h('button', { type: 'button', class: 'sec', hidden: true, click: () => this._run(true) }, t.more);
    const wrap = h('div', { class: `sn${this._page ? ' page' : ''}${this._compact ? ' compact' : ''}`, lang: this._lang },
      form, this._count, this._above, this._err, this._list, h('div', { class: 'foot' }, this._more));
    if (!this._page) {
      wrap.append(h('p', { class: 'via' }, h('a', { href: `${this._api}/${this._lang === 'en' ? 'en/' : ''}`, target: '_blank', rel: 'noopener' }, `Snodo · ${t.via}`, h('span', { class: 'vh' }, ` ${t.newWindow}`))));
    }
    this._wrap = wrap;
    root.replaceChildren(...(adopt ? [] : [h('style', null, CSS)]), wrap);
    if (!this._compact && !this._sources) this._loadSources();
  }

  /** The typed place replaces one chosen on the map; true when it changed. */
  _takePlace() {
    const inp = this._placeIn;
    if (!inp) return false;
    const v = inp.value.trim();
    const st = this._st;
    const cur = st.place || st.comune || st.province || '';
    if (v === cur || (v && v === this._placeShown)) return false;
    this._placeShown = '';
    st.place = v;
    st.comune = '';
    st.province = '';
    return true;
  }

  _typed() {
    this._st.q = this._q.value;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._run(), 120);
  }

  async _loadSources() {
    this._sources = {};
    try {
      const r = await fetch(`${this._api}/api/v1/sources`, { headers: { accept: 'application/json' } });
      if (!r.ok) return;
      for (const s of await r.json()) if (s && typeof s.id === 'string') this._sources[s.id] = String(s.name || s.id);
      this._fillSelects();
    } catch { /* the search itself reports an unreachable service */ }
  }

  _fillSelects(facets = this._facets) {
    this._facets = facets;
    const t = this._t;
    const st = this._st;
    const opts = {
      kind: [...new Set([...KINDS.slice(0, 5), ...Object.keys(facets?.kind || {}), st.kind].filter(Boolean))].map((k) => [k, t.kinds[k] || k]),
      status: STATUSES.map((s) => [s, t.statuses[s]]),
      region: [...REGIONS],
      topic: TOPICS.map(([code, it, en]) => [code, this._lang === 'en' ? en : it]),
      method: METHODS.map((m) => [m, t.methods[m]]),
      source: [...new Set([...Object.keys(this._sources || {}), ...Object.keys(facets?.source || {}), st.source].filter(Boolean))]
        .map((s) => [s, this._sources?.[s] || this._names?.[s] || s]).sort((a, b) => a[1].localeCompare(b[1], 'it')),
    };
    for (const [f, sel] of Object.entries(this._sel)) {
      const cur = st[f] || (f === 'sort' ? 'relevance' : '');
      const list = f === 'sort' ? SORTS.map((s) => [s, t.sorts[s]]) : [['', t.any], ...opts[f]];
      const counts = facets?.[f];
      sel.replaceChildren(...list.map(([v, name]) => {
        let n = null;
        if (counts && v && f !== 'sort') n = st[f] ? (v === st[f] ? counts[v] ?? null : null) : counts[v] ?? 0;
        return h('option', { value: v }, n == null ? name : `${name} (${n})`);
      }));
      sel.value = cur;
      if (sel.value !== cur) { sel.append(h('option', { value: cur }, cur)); sel.value = cur; }
    }
  }

  _params(offset) {
    const st = this._st;
    const p = new URLSearchParams();
    const q = queryText(st.q);
    if (q) p.set('q', q);
    for (const f of [...FILTERS, ...PRESETS]) if (st[f]) p.set(f, st[f]);
    if (st.sort && st.sort !== 'relevance') p.set('sort', st.sort);
    if (offset == null) return p;
    p.set('limit', this._limit);
    if (offset) p.set('offset', offset);
    p.set('lang', this._lang);
    return p;
  }

  async _run(append = false) {
    clearTimeout(this._timer);
    this._ctl?.abort();
    const ctl = (this._ctl = new AbortController());
    const t = this._t;
    const q = this._st.q.trim();
    this._wrap.classList.add('busy');
    this._list.setAttribute('aria-busy', 'true');
    if (this._page) {
      // keep the address shareable: it says what the page shows (and the server renders the same)
      const p = this._params();
      const key = (u) => [...u].map(String).sort().join('&');
      if (key(p) !== key(new URLSearchParams(location.search))) history.replaceState(history.state, '', p.size ? `?${p}` : location.pathname);
    }
    let res;
    let data;
    try {
      res = await fetch(`${this._api}/api/v1/search?${this._params(append ? this._items.length : 0)}`, { signal: ctl.signal, headers: { accept: 'application/json' } });
      if (res.ok) data = await res.json();
      else if (res.status < 500 && res.status !== 429) data = await res.json().catch(() => null);
    } catch {
      if (ctl.signal.aborted) return;
      return this._fail(t.unreachable);
    }
    if (ctl.signal.aborted) return;
    if (res.status === 429) return this._fail(t.rate(retrySeconds(res.headers.get('retry-after'))));
    if (!res.ok) {
      const detail = data && typeof data.detail === 'string' ? data.detail : data && typeof data.title === 'string' ? data.title : '';
      return this._fail(res.status < 500 ? `${t.invalid}${detail ? `: ${detail}` : '.'}` : t.server, res.status < 500);
    }
    if (!data || !Array.isArray(data.items)) return this._fail(t.server);
    this._done();
    // a place chosen on the map arrives as a code: show its name instead
    const pl = data.place;
    const inp = this._placeIn;
    if (inp && pl && typeof pl.name === 'string' && this.shadowRoot.activeElement !== inp
      && inp.value.trim() === (this._st.comune || this._st.province)) {
      this._placeShown = pl.level === 'province' && pl.sigla ? `${pl.name} (${pl.sigla})` : pl.name;
      inp.value = this._placeShown;
    }
    this._err.replaceChildren();
    const total = Number(data.total) || 0;
    if (!append) { this._items = []; this._list.replaceChildren(); }
    const first = this._items.length;
    this._names ||= {};
    for (const it of data.items) {
      if (!it || typeof it !== 'object') continue;
      if (typeof it.source === 'string' && typeof it.source_name === 'string') this._names[it.source] = it.source_name;
      this._items.push(it);
      this._list.append(this._card(it));
    }
    const shown = this._items.length;
    this._count.textContent = total ? `${t.count(total, q)}${shown < total ? ` (${t.shown(shown, total)})` : ''}` : t.none(q);
    this._more.hidden = shown >= total || data.items.length === 0;
    const above = Number(data.above?.total) || 0;
    this._above.hidden = !above;
    if (above) this._aboveText.textContent = t.above(above);
    if (!this._compact) this._fillSelects(data.facets);
    if (append) this._list.children[first]?.querySelector('a')?.focus();
  }

  _done() {
    this._wrap.classList.remove('busy');
    this._list.setAttribute('aria-busy', 'false');
  }

  _fail(msg, keepResults) {
    this._done();
    if (!keepResults) { this._items = []; this._list.replaceChildren(); this._more.hidden = true; }
    this._count.textContent = '';
    this._err.replaceChildren(h('p', null, msg), h('button', { type: 'button', class: 'sec', click: () => this._run() }, this._t.retry));
  }

  _fmt(d) {
    if (typeof d !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(d)) return null;
    const date = new Date(`${d}T00:00:00Z`);
    if (Number.isNaN(date.getTime())) return null;
    return h('time', { datetime: d }, new Intl.DateTimeFormat(this._t.locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(date));
  }

  /** A meeting's exact start, day and time as in Italy: `<time>` or null. */
  _when(ts) {
    if (typeof ts !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(ts)) return null;
    const date = new Date(ts);
    if (Number.isNaN(date.getTime())) return null;
    const f = new Intl.DateTimeFormat(this._t.locale, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Rome' });
    return h('time', { datetime: ts }, f.format(date));
  }

  _card(it) {
    const t = this._t;
    const lang = okLang(it.lang);
    const str = (v) => (typeof v === 'string' ? v : '');
    const href = safeUrl(it.url);
    const title = h('span', { lang }, str(it.title) || t.untitled);
    const heading = h(this._hl, { class: 'ttl' }, href ? h('a', { href, target: '_blank', rel: 'noopener' }, title, h('span', { class: 'vh' }, ` ${t.newWindow}`)) : title);

    const meta = h('p', { class: 'meta' }, t.kinds[it.kind] || str(it.kind), ' · ', str(it.source_name) || str(it.source));
    // The same process published on other platforms (the API shows it once).
    const also = Array.isArray(it.also_on) ? it.also_on.map((o) => (o && (str(o.source_name) || str(o.source))) || '').filter(Boolean) : [];
    if (also.length) meta.append(` · ${t.alsoOn} `, also.join(', '));

    const info = h('p', { class: 'info' });
    const status = STATUSES.includes(it.status) ? it.status : null;
    if (status) {
      const s = this._fmt(it.start_date);
      const e = this._fmt(it.end_date);
      const dates = h('span');
      if (status === 'upcoming' && s) dates.append(`${t.from} `, s, ...(e ? [` ${t.to} `, e] : []));
      else if (status === 'open' && e) dates.append(`${t.until} `, e);
      else if (status === 'closed' && e) dates.append(`${t.closedOn} `, e);
      else if (s) dates.append(`${t.from} `, s);
      // A meeting is one moment: its day and time say more than "from … to …".
      const when = it.kind === 'meeting' ? this._when(it.start_time) : null;
      if (when) dates.replaceChildren(when);
      info.append(h('span', { class: `badge b-${status}` }, t.statuses[status]));
      if (dates.childNodes.length) info.append(dates);
    }
    const comune = str(it.comune_name) || (/^\d+$/.test(str(it.comune)) ? '' : str(it.comune));
    const where = [comune, str(it.region_name) || REGIONS.get(it.region) || ''].filter(Boolean).join(', ') || str(it.scope_name);
    if (where) info.append(h('span', null, h('span', { class: 'vh' }, `${t.where} `), where));

    let text = null;
    if (typeof it.snippet === 'string' && it.snippet) text = h('p', { class: 'txt', lang }, ...snippetNodes(it.snippet));
    else if (str(it.summary)) text = h('p', { class: 'txt', lang }, clip(str(it.summary), this._compact ? 140 : 280));

    const methods = Array.isArray(it.methods) ? it.methods.filter((m) => typeof m === 'string' && m) : [];
    const mth = methods.length && !this._compact ? h('p', { class: 'mth' }, methods.map((m) => t.methods[m] || m).join(' · ')) : null;

    // The process a meeting belongs to, linked to its page.
    let part = null;
    if (str(it.parent_title)) {
      const pu = safeUrl(it.parent_url);
      const name = h('span', { lang }, str(it.parent_title));
      part = h('p', { class: 'mth par' }, `${t.partOf} `, pu ? h('a', { href: pu, target: '_blank', rel: 'noopener' }, name) : name);
    }

    return h('li', { class: 'card' }, h('article', null, meta, heading, info, part, text, mth));
  }
}

if (!customElements.get('snodo-search')) customElements.define('snodo-search', SnodoSearch);

// "Embed this search" page of the hub: builds the two-line snippet from the form and previews it.
// Runs only where the page has the form (#snodo-embed-form); a host page is never touched.
function embedBuilder() {
  const form = document.getElementById('snodo-embed-form');
  const code = document.getElementById('snodo-embed-code');
  if (!form || !code) return;
  const preview = document.getElementById('snodo-embed-preview');
  const copy = document.getElementById('snodo-embed-copy');
  const done = document.getElementById('snodo-embed-copied');
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const base = form.dataset.base || ORIGIN;
  // The version pinned by the page (absolute once the hub's address is known).
  const pinned = form.dataset.src || '';
  const src = pinned.startsWith('/') ? `${base}${pinned}` : pinned || `${base}/widget.js`;
  // The place as typed is resolved by the API to the attribute of its level (comune="037011"),
  // so the snippet does not depend on spelling; its hint says what was understood, or why not.
  const placeInput = form.elements.place;
  const hint = document.getElementById(placeInput?.getAttribute('aria-describedby') || '');
  const hintText = hint?.textContent || '';
  let resolved = { typed: '', attr: null };
  let asked = 0;
  const resolvePlace = async () => {
    const typed = String(placeInput?.value || '').trim();
    const mine = ++asked;
    if (!typed) { resolved = { typed, attr: null }; if (hint) hint.textContent = hintText; update(); return; }
    let attr = null; let say = hintText;
    try {
      const r = await fetch(`${base}/api/v1/search?limit=1&place=${encodeURIComponent(typed)}`);
      const body = await r.json();
      if (r.ok && body.place) {
        const p = body.place;
        attr = p.level === 'national' ? ['place', 'IT'] : [p.level, p.code];
        say = `${p.name}${p.sigla && p.level === 'comune' ? ` (${p.sigla})` : ''}: ${attr[0]}="${attr[1]}"`;
      } else if (body && typeof body.detail === 'string') {
        say = body.detail;
      }
    } catch { /* offline: the place stays as typed */ }
    if (mine !== asked) return;
    resolved = { typed, attr };
    if (hint) hint.textContent = say;
    update();
  };
  let timer;
  placeInput?.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(resolvePlace, 250); });
  const update = () => {
    const attrs = [];
    for (const name of ['lang', 'region', 'province', 'comune', 'place', 'scope', 'kind', 'status', 'topic', 'method', 'source', 'limit', 'placeholder']) {
      const v = String(form.elements[name]?.value || '').trim();
      if (name === 'place' && v && resolved.typed === v && resolved.attr) {
        attrs.push(resolved.attr);
        continue;
      }
      if (v && !(name === 'lang' && v === 'it')) attrs.push([name, v]);
    }
    if (form.elements.compact?.checked) attrs.push(['compact', '']);
    code.textContent = `<script type="module" src="${src}"${form.dataset.integrity ? ` integrity="${form.dataset.integrity}"` : ''}></script>\n<snodo-search${attrs.map(([k, v]) => (v ? ` ${k}="${esc(v)}"` : ` ${k}`)).join('')}></snodo-search>`;
    if (preview) {
      for (const a of [...preview.attributes]) if (a.name !== 'id' && a.name !== 'api') preview.removeAttribute(a.name);
      for (const [k, v] of attrs) preview.setAttribute(k, v);
      if (!preview.hasAttribute('lang')) preview.setAttribute('lang', 'it');
    }
  };
  form.addEventListener('input', update);
  form.addEventListener('change', update);
  form.addEventListener('submit', (e) => { e.preventDefault(); update(); });
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(code.textContent); if (done) done.textContent = done.dataset.msg || 'OK'; } catch { /* leave the text selectable */ }
    });
  }
  update();
  if (placeInput?.value) resolvePlace();
}
if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', embedBuilder);
  else embedBuilder();
}
