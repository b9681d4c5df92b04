// Fixture records for the mock server, shaped like the items of GET /api/v1/search. They include the
// hostile strings a harvested platform might send, to prove the widget renders them as text only.
export const XSS = {
  title: '<img src=x onerror="alert(\'xss-title\')">Bilancio partecipativo <script>alert("xss-script")</script>',
  summary: '"><svg onload=alert(\'xss-summary\')> Proposte per i quartieri di Bari',
  rawSnippet: 'testo <img src=x onerror=alert(\'xss-snippet\')> con <mark>bilancio</mark> &lt;b&gt;',
  url: 'javascript:alert(\'xss-url\')',
};

export const SOURCES = [
  { id: 'partecipa', name: 'ParteciPa', kind: 'decidim', url: 'https://partecipa.gov.it', records: 0, last_run: null, last_success_at: '2026-11-22T09:15:00Z' },
  { id: 'milano', name: 'Milano Partecipa', kind: 'decidim', url: 'https://partecipazione.comune.milano.it', records: 0, last_run: null, last_success_at: '2026-11-22T08:00:00Z' },
  { id: 'puglia', name: 'PugliaPartecipa', kind: 'decidim', url: 'https://partecipazione.regione.puglia.it', records: 0, last_run: null, last_success_at: '2026-11-21T22:30:00Z' },
  { id: 'emilia', name: 'PartecipAzioni Emilia-Romagna', kind: 'decidim', url: 'https://partecipazione.regione.emilia-romagna.it', records: 0, last_run: null, last_success_at: null },
  { id: 'torino', name: '<b>Torino</b> Decidi', kind: 'decidim', url: 'https://decidi.comune.torino.it', records: 0, last_run: null, last_success_at: '2026-11-20T12:00:00Z' },
];

const R = (source, n, kind, title, summary, region, comune, start, end, extra = {}) => ({
  id: `${source}:${kind}:${n}`, kind, title, lang: 'it', summary, url: `https://example.invalid/${source}/${kind}/${n}`,
  source, region, comune, scope_name: comune || null, start_date: start, end_date: end, image_url: null,
  methods: ['proposals', 'meetings'], ...extra,
});

export const RECORDS = [
  R('puglia', 1, 'process', XSS.title, XSS.summary, '16', 'Bari', '2026-09-01', '2027-01-31', { rawSnippet: XSS.rawSnippet }),
  R('puglia', 2, 'process', 'Bilancio partecipativo 2026 di Lecce', 'I cittadini decidono come spendere 500.000 euro per il verde e la mobilità.', '16', 'Lecce', '2026-10-01', '2026-12-31', { methods: ['budgets', 'proposals'] }),
  R('puglia', 3, 'consultation', 'Piano regionale dei trasporti', 'Consultazione pubblica sul piano dei trasporti della Regione Puglia.', '16', null, '2026-06-01', '2026-09-30'),
  R('puglia', 4, 'assembly', 'Assemblea dei giovani pugliesi', 'Un luogo permanente di confronto per chi ha tra 16 e 30 anni.', '16', null, '2025-01-01', null),
  R('puglia', 5, 'process', 'Regolamento dei beni comuni di Taranto', 'Scrivere insieme il regolamento per la cura dei beni comuni urbani.', '16', 'Taranto', '2027-02-01', '2027-05-31'),
  R('milano', 1, 'process', 'Bilancio partecipativo Milano', 'Progetti per i Municipi proposti e votati dai cittadini.', '03', 'Milano', '2026-09-15', '2027-03-15', { methods: ['budgets', 'proposals', 'meetings'] }),
  R('milano', 2, 'process', 'Piazze aperte', 'Trasformare incroci e parcheggi in piazze vissute dal quartiere.', '03', 'Milano', '2025-03-01', '2025-12-31'),
  R('milano', 3, 'consultation', 'Piano aria e clima', 'Osservazioni al piano per la qualità dell\'aria e il clima.', '03', 'Milano', '2026-11-01', '2026-12-15', { methods: ['surveys'] }),
  R('milano', 4, 'meeting', 'Incontro pubblico sul verde di quartiere', 'Un incontro aperto a tutti nel Municipio 8.', '03', 'Milano', '2026-12-05', '2026-12-05', { methods: [] }),
  R('emilia', 1, 'process', 'Legge regionale sulla partecipazione', 'Revisione della legge regionale 15/2018 sulla partecipazione.', '08', null, '2026-04-01', '2026-12-20'),
  R('emilia', 2, 'process', 'Bologna: bilancio partecipativo dei quartieri', 'Proposte per i sei quartieri della città.', '08', 'Bologna', '2025-10-01', '2026-02-28'),
  R('emilia', 3, 'initiative', 'Iniziativa popolare per le piste ciclabili', 'Raccolta firme per una rete ciclabile regionale.', '08', null, '2026-10-15', '2027-04-15'),
  R('torino', 1, 'process', 'Torino cambia: periferie al centro', 'Progettazione partecipata degli spazi pubblici delle periferie.', '01', 'Torino', '2026-05-01', '2026-11-30'),
  R('torino', 2, 'consultation', 'Regolamento per il verde pubblico', 'Consultazione sul nuovo regolamento del verde.', '01', 'Torino', '2024-01-10', '2024-03-10'),
  R('partecipa', 1, 'consultation', 'Open Government Forum: sesto piano d\'azione', 'Consultazione sul 6° Piano d\'azione nazionale per il governo aperto.', null, null, '2026-10-01', '2026-12-31', { scope_name: 'Italia' }),
  R('partecipa', 2, 'process', 'Strategia nazionale per lo sviluppo sostenibile', 'Partecipa alla revisione della strategia nazionale.', null, null, '2026-03-01', '2026-06-30', { scope_name: 'Italia' }),
  R('partecipa', 3, 'process', 'Piano nazionale per la mobilità dolce', 'Consultazione sulle ciclovie e i cammini.', null, null, '2027-01-15', '2027-06-15', { scope_name: 'Italia' }),
  R('partecipa', 4, 'conference', 'Conferenza nazionale sulla partecipazione', 'Due giorni di lavori con amministrazioni e cittadini.', '12', 'Roma', '2026-12-10', '2026-12-11'),
  R('partecipa', 5, 'consultation', 'Participatory budgeting guidelines (English version)', 'Guidelines for municipalities that want to run a participatory budget.', null, null, '2026-09-01', '2026-12-31', { lang: 'en', scope_name: 'Italia' }),
  R('partecipa', 6, 'process', 'Link malevolo di prova', 'Un record il cui indirizzo non è http.', '12', 'Roma', '2026-01-01', '2027-12-31', { url: XSS.url }),
  R('partecipa', 7, 'process', 'Sardegna: piano paesaggistico costiero', 'Osservazioni dei cittadini sul piano paesaggistico.', '20', 'Cagliari', '2026-07-01', '2027-01-10'),
  R('partecipa', 8, 'process', 'Sicilia: Palermo città dei bambini', 'Bambine e bambini ridisegnano i cortili delle scuole.', '19', 'Palermo', '2026-10-20', '2027-02-20'),
  R('partecipa', 9, 'process', 'Toscana partecipa: Firenze sostenibile', 'Proposte per una Firenze più verde.', '09', 'Firenze', '2025-02-01', '2025-06-30'),
  R('partecipa', 10, 'process', 'Campania: bilancio partecipativo di Napoli', 'I quartieri di Napoli scelgono i progetti.', '15', 'Napoli', '2026-11-01', '2027-01-31', { methods: ['budgets'] }),
  R('partecipa', 11, 'process', 'Veneto: Venezia e la laguna', 'Proposte per la tutela della laguna.', '05', 'Venezia', '2026-08-01', '2026-12-01'),
  R('partecipa', 12, 'consultation', 'Lazio: trasporto pubblico regionale', 'Questionario sul trasporto regionale.', '12', null, '2026-11-10', '2027-01-10', { methods: ['surveys'] }),
];
for (const s of SOURCES) s.records = RECORDS.filter((r) => r.source === s.id).length;
