/*
 * A small, strict XML 1.0 reader for checking what we write (GPX): it
 * refuses what is not well formed (unclosed or mismatched tags, a bare & or <
 * in text, unquoted or repeated attributes, an unknown entity or prefix,
 * content after the root) and resolves namespaces. No DTDs.
 */

export interface XmlElement {
  /** The qualified name as written (nrec:stale). */
  name: string;
  /** Namespace URI ('' for none) and local name. */
  ns: string;
  local: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data (text and CDATA, concatenated). */
  text: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9._:-]*/y;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, at: number): string {
  return s.replace(/&([^;]*);|&/g, (whole, ent: string | undefined) => {
    if (ent === undefined) throw new Error(`XML: bare & at offset ${at}`);
    if (ent.startsWith('#x')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    const v = ENTITIES[ent];
    if (v === undefined) throw new Error(`XML: unknown entity &${ent}; at offset ${at}`);
    return v;
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at offset ${i} (…${src.slice(Math.max(0, i - 20), i + 20)}…)`);
  };
  const skipWs = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (m === null) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const skipMisc = () => {
    for (;;) {
      skipWs();
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!DOCTYPE', i)) {
        fail('DTDs are not accepted');
      } else return;
    }
  };

  function element(scope: Record<string, string>): XmlElement {
    if (src[i] !== '<') fail('expected <');
    i++;
    const qname = name();
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = i;
      skipWs();
      if (src.startsWith('/>', i) || src[i] === '>') break;
      if (i === before) fail('expected whitespace before an attribute');
      const a = name();
      skipWs();
      if (src[i] !== '=') fail(`attribute ${a} without =`);
      i++;
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") fail(`attribute ${a} is not quoted`);
      const end = src.indexOf(q, i + 1);
      if (end < 0) fail(`unterminated attribute ${a}`);
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) fail(`< in attribute ${a}`);
      if (Object.hasOwn(attrs, a)) fail(`attribute ${a} twice`);
      attrs[a] = decode(raw, i);
      i = end + 1;
    }
    const ns = { ...scope };
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'xmlns') ns[''] = v;
      else if (k.startsWith('xmlns:')) ns[k.slice(6)] = v;
    }
    const colon = qname.indexOf(':');
    const prefix = colon < 0 ? '' : qname.slice(0, colon);
    const uri = ns[prefix];
    if (uri === undefined && prefix !== '') fail(`undeclared prefix ${prefix}`);
    for (const k of Object.keys(attrs)) {
      const c = k.indexOf(':');
      if (c > 0 && k.slice(0, c) !== 'xmlns' && k.slice(0, c) !== 'xml' && ns[k.slice(0, c)] === undefined) fail(`undeclared prefix on attribute ${k}`);
    }
    const el: XmlElement = { name: qname, ns: uri ?? '', local: colon < 0 ? qname : qname.slice(colon + 1), attrs, children: [], text: '' };
    if (src.startsWith('/>', i)) {
      i += 2;
      return el;
    }
    i++;
    for (;;) {
      if (i >= src.length) fail(`unclosed <${qname}>`);
      if (src.startsWith('</', i)) {
        i += 2;
        const closing = name();
        if (closing !== qname) fail(`</${closing}> closes <${qname}>`);
        skipWs();
        if (src[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (src.startsWith('<![CDATA[', i)) {
        const end = src.indexOf(']]>', i + 9);
        if (end < 0) fail('unterminated CDATA');
        el.text += src.slice(i + 9, end);
        i = end + 3;
      } else if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (src[i] === '<') {
        el.children.push(element(ns));
      } else {
        const end = src.indexOf('<', i);
        const raw = src.slice(i, end < 0 ? src.length : end);
        if (raw.includes(']]>')) fail(']]> in text');
        el.text += decode(raw, i);
        i += raw.length;
      }
    }
  }

  if (src.charCodeAt(0) === 0xfeff) i = 1;
  skipMisc();
  const root = element({ xml: 'http://www.w3.org/XML/1998/namespace' });
  skipMisc();
  if (i !== src.length) fail('content after the root element');
  return root;
}
